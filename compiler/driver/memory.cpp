// What memory a run has left and what training will take (binding.hpp): the check before
// anything large is allocated.
#include "driver/memory.hpp"

#include "ir/loop.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include <sys/resource.h>

namespace vmc::driver {

namespace {

// A number from a one-line file such as cgroup v2's memory.max ("max" and errors: nullopt).
std::optional<double> number_in(const std::string& path) {
  std::ifstream f(path);
  double v;
  if (f >> v) return v;
  return std::nullopt;
}

// The process's VmSize or VmRSS from /proc/self/status, in bytes (0 when unknown).
double self_status(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string k, unit;
  double kb;
  while (f >> k) {
    if (k == key + ":" && f >> kb >> unit) return kb * 1024;
    std::getline(f, unit);
  }
  return 0;
}

}  // namespace

MemoryLimit memory_left() {
  MemoryLimit m;
  auto tighter = [&m](double bytes, const std::string& what) {
    if (bytes >= 0 && (m.bytes < 0 || bytes < m.bytes)) {
      m.bytes = bytes;
      m.what = what;
    }
  };
  {
    std::ifstream f("/proc/meminfo");
    std::string key, unit;
    double kb = 0;
    while (f >> key >> kb >> unit) {
      if (key == "MemAvailable:") tighter(kb * 1024, "available on this machine");
    }
  }
  // ulimit -v: what is left of the address space (our threads' reserved stacks count there).
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    tighter(std::max(0.0, static_cast<double>(as.rlim_cur) - self_status("VmSize")), "left under ulimit -v");
  }
  // The cgroup's limit (a container's, a systemd slice's): v2, then v1.
  if (auto max = number_in("/sys/fs/cgroup/memory.max")) {
    tighter(std::max(0.0, *max - number_in("/sys/fs/cgroup/memory.current").value_or(0)), "left in this cgroup");
  } else if (auto v1 = number_in("/sys/fs/cgroup/memory/memory.limit_in_bytes"); v1 && *v1 < 1e18) {
    tighter(std::max(0.0, *v1 - number_in("/sys/fs/cgroup/memory/memory.usage_in_bytes").value_or(0)),
            "left in this cgroup");
  }
  return m;
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes < 1e8 ? "%.2f GB" : "%.1f GB", bytes / 1e9);
  return buf;
}

namespace {

// What the loops' backward passes keep per thread (runtime/src/loops.cpp): every state of each
// loop whose bounds are constants, at the sizes given (a run-time extent by its symbol's name;
// one not given counts 1000, a minibatch's most). Loops in loop bodies count at their own trip
// counts, once: their memory is reused across the outer iterations.
double loop_states(const std::vector<ir::Output>& outputs, const std::map<std::string, std::int64_t>& sizes,
                   double real, std::set<const ir::LoopBody*>& seen) {
  std::vector<const ir::Node*> roots;
  for (const ir::Output& o : outputs) roots.push_back(o.node);
  double bytes = 0;
  std::set<std::vector<const ir::Node*>> counted;
  for (const ir::Node* n : ir::topological_order(roots)) {
    if (n->op() != ir::Op::LoopGrad && n->op() != ir::Op::Loop) continue;
    const ir::LoopBody* body = n->attrs().loop.get();
    if (seen.insert(body).second) {
      bytes += loop_states(body->vjp.outputs, sizes, real, seen) + loop_states(body->body.outputs, sizes, real, seen);
    }
    if (n->op() != ir::Op::LoopGrad || n->arg(0)->op() != ir::Op::Const || n->arg(1)->op() != ir::Op::Const) continue;
    // A loop's adjoints share one backward pass, its states kept once.
    if (!counted.insert(std::vector<const ir::Node*>(n->args().begin(), n->args().end())).second) continue;
    double trips = std::max(0.0, n->arg(1)->attrs().value - n->arg(0)->attrs().value);
    double elements = 1;
    for (const ir::Extent& e : n->arg(2)->shape()) {
      if (e.is_constant()) {
        elements *= static_cast<double>(e.size);
      } else {
        auto s = sizes.find(n->graph().symbol_name(e.symbol));
        elements *= s == sizes.end() ? 1000.0 : static_cast<double>(s->second);
      }
    }
    bytes += (trips + 1) * elements * real;
  }
  return bytes;
}

}  // namespace

double memory_to_come(const Bound& b, int threads, int optimizer_slots) {
  const vmc_model_info& info = b.fe.compiled->info();
  const std::map<std::string, std::int64_t> dims = b.fe.model->dim_values();
  // The run-time sizes: a dim's extent, a minibatch at most 1000 rows (eval's chunks, --batch).
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(info.n_sizes), 1);
  for (int s = 0; s < info.n_sizes; ++s) {
    auto d = dims.find(info.size_dims[s]);
    std::int64_t extent = d == dims.end() ? 1 : d->second;
    sizes[s] = std::string(info.sizes[s]) == info.size_dims[s] ? extent : std::min<std::int64_t>(extent, 1000);
  }
  auto elements = [&](const vmc_buffer_info& in) {
    double n = 1;
    for (int k = 0; k < in.rank; ++k) {
      std::int64_t e = in.extents[k];
      n *= e >= 0 ? static_cast<double>(e) : static_cast<double>(sizes[static_cast<std::size_t>(-e - 1)]);
    }
    return n;
  };
  double params = 0, per_row_inputs = 0;
  for (int i = 0; i < info.n_inputs; ++i) {
    if (info.inputs[i].kind == VMC_PARAM) params += elements(info.inputs[i]);
    else per_row_inputs += elements(info.inputs[i]);  // noise and minibatch rows, per thread
  }
  double data = 0;
  for (const auto& [name, a] : b.train) data += static_cast<double>(a.values.size());
  for (const auto& [name, a] : b.test) data += static_cast<double>(a.values.size());
  double workspace = 0;
  for (int k = 0; k < info.n_kernels; ++k) {
    const vmc_kernel_info& kernel = info.kernels[k];
    double w = kernel.workspace_bytes ? static_cast<double>(kernel.workspace_bytes(sizes.data())) : 0;
    for (int o = 0; o < kernel.n_outputs; ++o) w += elements(kernel.outputs[o]) * info.real_bytes;
    workspace = std::max(workspace, w);
  }
  const double real = info.real_bytes;
  double loops = 0;
  if (b.fe.lowered) {
    std::map<std::string, std::int64_t> extent;
    for (int s = 0; s < info.n_sizes; ++s) extent[info.sizes[s]] = sizes[static_cast<std::size_t>(s)];
    std::set<const ir::LoopBody*> seen;
    loops = loop_states(b.fe.lowered->function.outputs, extent, real, seen);
  }
  // Samples drawn at run time (abi.h, vmc_model_info::samples): per thread, the running sums of
  // the gradient outputs; an importance-weighted bound's log-weight and weight of every sample
  // and row, in double.
  double sampling = 0;
  if (info.samples > 1 || info.importance_weighted) sampling += params * real;
  for (int k = 0; k < info.n_kernels && info.importance_weighted; ++k) {
    const vmc_kernel_info& kernel = info.kernels[k];
    if (std::string(kernel.name) == "log_weights" && kernel.n_outputs > 0) {
      sampling += 2 * 8.0 * info.samples * elements(kernel.outputs[0]);
    }
  }
  // Params: their initial values in double, then the value, one gradient per thread, the
  // optimizer's slots, and the last good state (value and slots again). Data: its copy in the
  // model's precision (the loaded doubles are already counted in what is left). Per thread: a
  // kernel's workspace and outputs, its inputs' rows and noise, what its samples keep, and the
  // states its loops keep for their gradients.
  return params * (8 + real * (1 + threads + 2 * (1 + optimizer_slots))) + data * real +
         threads * (workspace + per_row_inputs * real + sampling + loops);
}

bool fits_in_memory(const Bound& b, const std::string& where, int threads, int optimizer_slots) {
  const double need = memory_to_come(b, threads, optimizer_slots);
  const MemoryLimit left = memory_left();
  if (left.bytes >= 0 && need > left.bytes) {
    const vmc_model_info& info = b.fe.compiled->info();
    double params = 0;
    for (int i = 0; i < info.n_inputs; ++i) {
      if (info.inputs[i].kind != VMC_PARAM) continue;
      double n = 1;
      for (int k = 0; k < info.inputs[i].rank; ++k)
        n *= info.inputs[i].extents[k] >= 0 ? static_cast<double>(info.inputs[i].extents[k]) : 1.0;
      params += n;
    }
    char count[32];
    std::snprintf(count, sizeof count, "%.3g", params);
    error(where, "the model needs about " + gigabytes(need) + " of memory (" + count + " param values" +
                     (b.train.empty() ? "" : " and its data") + ") beyond what it holds now, more than the " +
                     gigabytes(left.bytes) + " " + left.what + "; make the dims smaller (--set)");
    return false;
  }
  return true;
}

}  // namespace vmc::driver
