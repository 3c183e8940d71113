// params_diff A.bin B.bin f32|f64 TOL [ELEMENT_TOL]: how far apart the params of two vmc
// checkpoints of the same model are. Per param: ‖a − b‖ / ‖a‖ (the relative difference of that
// param as a whole); exit 0 when every param's is at most TOL and, if ELEMENT_TOL is given, every
// element's |a − b| / max(|a|, |b|, 1e-3) at most that. For the `mpi` tests: R ranks against one
// process. Reads the checkpoint layout of runtime/src/fit.cpp and the engine state of trainer.cpp.
//
// Why per param: in float32 a sum in another order moves a gradient element by an ulp or so,
// and Adam's first steps divide each element by its own magnitude, so an element whose
// gradient nearly cancels can move by ~lr either way whatever the order (two threads against
// one show the same); a param as a whole moves by ~1e-7 of its norm.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Reader {
  std::string in;
  std::size_t at = 0;
  template <typename V> V pod() {
    if (in.size() - at < sizeof(V)) throw std::runtime_error("truncated");
    V v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string bytes() {
    auto n = pod<std::uint64_t>();
    if (in.size() - at < n) throw std::runtime_error("truncated");
    std::string s = in.substr(at, n);
    at += n;
    return s;
  }
};

std::map<std::string, std::vector<double>> params(const std::string& path, bool f64) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  Reader file{std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>())};
  file.at = 8;  // the checkpoint's magic
  Reader r{file.bytes()};
  if (r.in.compare(0, 10, "vmc-engine") != 0) throw std::runtime_error(path + ": not a vmc engine state");
  r.at = 10;
  r.pod<std::uint32_t>();   // version
  r.pod<std::uint64_t>();   // fingerprint
  r.pod<std::uint32_t>();   // optimizer
  r.pod<std::uint64_t>();   // seed
  for (int k = 0; k < 4; ++k) r.pod<std::int64_t>();  // batch, steps, seen, updates
  std::map<std::string, std::vector<double>> out;
  while (r.at < r.in.size()) {
    std::string name = r.bytes();
    std::string raw = r.bytes();
    std::vector<double>& v = out[name];
    if (f64) {
      v.resize(raw.size() / 8);
      std::memcpy(v.data(), raw.data(), v.size() * 8);
    } else {
      std::vector<float> x(raw.size() / 4);
      std::memcpy(x.data(), raw.data(), x.size() * 4);
      v.assign(x.begin(), x.end());
    }
    auto slots = r.pod<std::uint32_t>();
    for (std::uint32_t k = 0; k < slots; ++k) r.bytes();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: params_diff A.bin B.bin f32|f64 TOL [ELEMENT_TOL]\n");
    return 2;
  }
  try {
    bool f64 = std::string(argv[3]) == "f64";
    auto a = params(argv[1], f64), b = params(argv[2], f64);
    if (a.size() != b.size() || a.empty()) throw std::runtime_error("the checkpoints hold different params");
    const double tol = std::stod(argv[4]);
    const double element_tol = argc == 6 ? std::stod(argv[5]) : INFINITY;
    double worst = 0, worst_param = 0;
    std::string where, which;
    std::size_t values = 0;
    for (const auto& [name, va] : a) {
      const std::vector<double>& vb = b.at(name);
      if (va.size() != vb.size()) throw std::runtime_error("param '" + name + "' differs in size");
      double diff2 = 0, norm2 = 0;
      for (std::size_t i = 0; i < va.size(); ++i) {
        diff2 += (va[i] - vb[i]) * (va[i] - vb[i]);
        norm2 += va[i] * va[i];
        double d = std::abs(va[i] - vb[i]) / std::max({std::abs(va[i]), std::abs(vb[i]), 1e-3});
        if (!(d <= worst)) {
          worst = d;
          where = name + "[" + std::to_string(i) + "]";
        }
        ++values;
      }
      double rel = std::sqrt(diff2) / std::max(std::sqrt(norm2), 1e-30);
      if (diff2 == 0) rel = 0;
      if (!(rel <= worst_param)) {
        worst_param = rel;
        which = name;
      }
    }
    char element[64] = "";
    if (argc == 6) std::snprintf(element, sizeof element, "; tolerance %.3g", element_tol);
    std::printf("%zu params, %zu values: largest relative difference of a param %.3g (%s; tolerance %.3g), "
                "of an element %.3g (%s%s)\n",
                a.size(), values, worst_param, which.c_str(), tol, worst, where.c_str(), element);
    return worst_param <= tol && worst <= element_tol ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "params_diff: %s\n", e.what());
    return 2;
  }
}
