#include "sema/model.hpp"

#include "support/check.hpp"

namespace vmc::sema {

const char* to_string(Role role) {
  switch (role) {
    case Role::Data: return "data";
    case Role::Param: return "param";
    case Role::Latent: return "latent";
  }
  return "?";
}

const Dim* Model::find_dim(const std::string& name) const {
  for (const Dim& d : dims) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const Variable* Model::find_variable(const std::string& name) const {
  for (const std::vector<Variable>* list : {&data, &params, &latents}) {
    for (const Variable& v : *list) {
      if (v.name == name) return &v;
    }
  }
  return nullptr;
}

const Type* Model::type_of(const ast::Expr& e) const {
  auto it = expr_types.find(&e);
  return it == expr_types.end() ? nullptr : &it->second;
}

const NameRef& Model::name_of(const ast::Expr& e) const {
  auto it = names.find(&e);
  VMC_ASSERT(it != names.end(), "a name sema did not resolve");
  return it->second;
}

const SampleSite* Model::site_of(const ast::Sample& s) const {
  for (const SampleSite& site : samples) {
    if (site.stmt == &s) return &site;
  }
  return nullptr;
}

std::map<std::string, std::int64_t> Model::dim_values() const {
  std::map<std::string, std::int64_t> values;
  for (const Dim& d : dims) {
    if (d.value) values[d.name] = *d.value;
  }
  return values;
}

std::size_t Model::local_latent_count() const {
  std::size_t n = 0;
  for (const Variable& v : latents) n += v.local;
  return n;
}

}  // namespace vmc::sema
