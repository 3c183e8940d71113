#include "codegen/codegen.hpp"

#include <algorithm>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>

#include "codegen/emitter.hpp"

namespace vmc::codegen {

const char* to_string(Precision p) { return p == Precision::F32 ? "f32" : "f64"; }

Generated generate(const ir::Function& function, const std::vector<KernelSpec>& kernels,
                   Precision precision, const Target& target, const std::string& module_name,
                   std::size_t parts) {
  Generated g;
  parts = std::clamp<std::size_t>(std::min(parts, kernels.size()), 1, 2);
  for (std::size_t u = 0; u < parts; ++u) {
    Unit& unit = g.units.emplace_back();
    unit.context = std::make_unique<llvm::LLVMContext>();
    // The same name for every part: the training kernel's module is then the same text (and
    // the same object cache entry) whether it is built alone (vmc bench) or beside the others.
    unit.module = std::make_unique<llvm::Module>(module_name, *unit.context);
    if (!target.triple.empty()) unit.module->setTargetTriple(target.triple);
  }
  const ir::Graph& graph = *function.graph;
  for (std::size_t s = 0; s < graph.symbol_count(); ++s) {
    g.symbols.push_back(graph.symbol_name(static_cast<std::int32_t>(s)));
  }
  // Every kernel takes the inputs any kernel reads, in the order the function first meets them.
  std::vector<const ir::Node*> roots;
  for (const KernelSpec& k : kernels) roots.insert(roots.end(), k.outputs.begin(), k.outputs.end());
  for (const ir::Node* n : ir::topological_order(roots)) {
    if (n->op() == ir::Op::Input) g.inputs.push_back(n);
  }
  std::vector<std::unique_ptr<Emitter>> emitters;
  for (Unit& unit : g.units) emitters.push_back(std::make_unique<Emitter>(*unit.module, precision, target, graph));
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    const KernelSpec& spec = kernels[i];
    Kernel k{spec.name, spec.name + "_workspace_bytes", schedule(spec.outputs, g.inputs, precision == Precision::F32 ? 4 : 8, spec.row_symbols)};
    emitters[std::min(i, emitters.size() - 1)]->kernel(spec.name, k.schedule);
    g.kernels.push_back(std::move(k));
  }
  return g;
}

std::string to_text(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream out(text);
  module.print(out, nullptr);
  return text;
}

}  // namespace vmc::codegen
