// The optimisation engine (runtime/include/vmc/trainer.hpp).
#include "vmc/trainer.hpp"

#include <algorithm>
#include <type_traits>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <numeric>
#include <span>
#include <sstream>
#include <thread>
#include <utility>

#include "gemm_log.hpp"
#include "vmc/philox.hpp"

namespace vmc::runtime {

const char* to_string(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::Sgd: return "sgd";
    case OptimizerKind::Momentum: return "momentum";
    case OptimizerKind::Adagrad: return "adagrad";
    case OptimizerKind::RmsProp: return "rmsprop";
    case OptimizerKind::Adam: return "adam";
  }
  return "?";
}

OptimizerKind parse_optimizer(const std::string& name) {
  for (OptimizerKind k : {OptimizerKind::Sgd, OptimizerKind::Momentum, OptimizerKind::Adagrad,
                          OptimizerKind::RmsProp, OptimizerKind::Adam}) {
    if (name == to_string(k)) return k;
  }
  throw std::invalid_argument("unknown optimizer '" + name +
                              "' (expected adam, adagrad, sgd, momentum or rmsprop)");
}

double default_learning_rate(OptimizerKind k) { return k == OptimizerKind::Adagrad ? 1e-2 : 1e-3; }

namespace {

// Evaluation and sampling draw their noise from steps no training run reaches.
constexpr std::uint64_t kEvalStepBase = std::uint64_t{1} << 37;
constexpr std::uint64_t kEvalStreamStride = std::uint64_t{1} << 24;

std::uint64_t eval_step(std::uint64_t stream, std::uint64_t k) {
  return kEvalStepBase + (stream % (std::uint64_t{1} << 12)) * kEvalStreamStride + k;
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
std::uint64_t fnv1a(const std::string& s, std::uint64_t h) { return fnv1a(s.data(), s.size(), h); }

// 64-byte aligned storage for kernel buffers (abi.h asks it of workspaces; it helps the rest).
template <typename T>
struct Aligned {
  T* data = nullptr;
  std::size_t size = 0, capacity = 0;
  Aligned() = default;
  Aligned(const Aligned&) = delete;
  Aligned(Aligned&& o) noexcept : data(o.data), size(o.size), capacity(o.capacity) { o.data = nullptr; }
  ~Aligned() { std::free(data); }
  void resize(std::size_t n) {  // contents are not kept
    size = n;
    if (n <= capacity) return;
    std::free(data);
    std::size_t bytes = (std::max<std::size_t>(n, 1) * sizeof(T) + 63) / 64 * 64;
    data = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    capacity = bytes / sizeof(T);
  }
  void zero() { std::memset(data, 0, size * sizeof(T)); }
};

// A few threads that run one function on every thread index at once (0 is the caller). A step
// runs three such phases a few hundred microseconds apart, so the threads spin briefly before
// sleeping: a futex wake-up per phase cost ~10 % of a two-thread step.
class Pool {
 public:
  explicit Pool(int threads) : n_(std::max(1, threads)) {
    for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int size() const { return n_; }
  // Runs fn(t) for every thread index t. The callable is passed by pointer and a trampoline,
  // never copied into a std::function: a training step allocates nothing.
  template <typename F>
  void run(F&& fn) {
    if (n_ == 1) return fn(0);
    using Fn = std::remove_reference_t<F>;
    call_ = [](void* f, int t) { (*static_cast<Fn*>(f))(t); };
    fn_ = const_cast<void*>(static_cast<const void*>(&fn));
    pending_.store(n_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    std::exception_ptr mine;
    try {
      fn(0);
    } catch (...) {
      mine = std::current_exception();
    }
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // Spins up to ~0.2 ms for `ready`; false when it did not come.
  template <typename F>
  static bool spin_until(F ready) {
    auto start = std::chrono::steady_clock::now();
    for (unsigned i = 1;; ++i) {
      if (ready()) return true;
      if (i % 256 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(200)) return false;
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }

  void work(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, fresh);
      }
      seen = generation_.load(std::memory_order_acquire);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      std::exception_ptr err;
      try {
        call_(fn_, t);
      } catch (...) {
        err = std::current_exception();
      }
      if (err) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = err;
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  void* fn_ = nullptr;
  void (*call_)(void*, int) = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  std::exception_ptr error_;
};

// All of a pool's threads wait here until each has arrived (inside one Pool::run, so a step's
// check and update need no second wake-up of the workers).
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void set_size(int n) { n_ = n; }
  void wait() {
    if (n_ <= 1) return;
    unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    while (gen_.load(std::memory_order_acquire) == gen) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }

 private:
  int n_;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
};

// [begin, end) of part t of n split into `parts` near-equal contiguous pieces.
std::pair<std::size_t, std::size_t> part(std::size_t n, int parts, int t) {
  std::size_t base = n / parts, extra = n % parts;
  std::size_t begin = t * base + std::min<std::size_t>(t, extra);
  return {begin, begin + base + (static_cast<std::size_t>(t) < extra ? 1 : 0)};
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Little-endian byte writer/reader for the engine's state.
struct Writer {
  std::string out;
  template <typename V> void pod(const V& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    out += s;
  }
  void bytes(const void* p, std::size_t n) {
    pod<std::uint64_t>(n);
    out.append(static_cast<const char*>(p), n);
  }
};
struct Reader {
  const std::string& in;
  std::size_t at = 0;
  void need(std::size_t n) {
    if (in.size() - at < n) throw RuntimeError("checkpoint: truncated engine state");
  }
  template <typename V> V pod() {
    need(sizeof(V));
    V v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string str() {
    auto n = pod<std::uint64_t>();
    need(n);
    std::string s = in.substr(at, n);
    at += n;
    return s;
  }
  void bytes(void* p, std::size_t n) {
    if (pod<std::uint64_t>() != n) throw RuntimeError("checkpoint: a buffer has the wrong size");
    need(n);
    std::memcpy(p, in.data() + at, n);
    at += n;
  }
};

}  // namespace

// ----------------------------------------------------------------------------------------------

struct Trainer::Impl {
  virtual ~Impl() = default;
  virtual StepResult step() = 0;
  virtual double evaluate(const Arrays& data, const std::string& kernel, std::uint64_t stream,
                          std::int64_t batch) = 0;
  virtual Draws sample(const std::string& kernel, std::int64_t count, std::int64_t rows,
                       std::uint64_t stream, const Arrays* data,
                       const std::map<std::string, std::vector<double>>& noise) = 0;
  virtual std::vector<double> param(const std::string& name) const = 0;
  virtual std::string save_state() const = 0;
  virtual void restore_state(const std::string& bytes, bool params_only) = 0;
  virtual void check_data(const Arrays& data) const = 0;
  virtual GemmProfile record_step() = 0;
  virtual double replay_gemms(const GemmProfile& profile, int repeats) = 0;
  virtual double importance_weighted(const Arrays& data, const std::string& kernel, std::int64_t k,
                                     std::uint64_t stream, std::int64_t batch) = 0;
  virtual std::vector<double> whole_data_draws(const std::string& kernel, std::int64_t count,
                                               std::uint64_t stream) = 0;

  const vmc_model_info* info = nullptr;
  TrainerOptions options;
  std::int64_t steps = 0, seen = 0, updates = 0;
  std::int64_t datapoints = 1;
  std::string primary;
  std::int64_t primary_batch = 0, steps_per_epoch = 1;
};

namespace {

bool is_batch_symbol(const vmc_model_info& info, int s) {
  return std::strcmp(info.sizes[s], info.size_dims[s]) != 0;
}

// The data bound for one run: every array converted once, the run-time sizes it implies.
template <typename T>
struct Dataset {
  std::map<std::string, std::vector<T>> reals;
  std::map<std::string, std::vector<std::int64_t>> ints;
  std::map<std::string, std::vector<std::int64_t>> shapes;
  std::map<std::string, std::int64_t> dims;  // every run-time dim's full extent
};

template <typename T>
class Engine final : public Trainer::Impl {
 public:
  Engine(const vmc_model_info& model, Arrays data, const std::map<std::string, std::vector<double>>& init,
         const TrainerOptions& o)
      : pool_(std::max(1, o.threads)) {
    info = &model;
    options = o;
    options.threads = std::max(1, o.threads);
    const vmc_model_info& m = *info;
    // Subsampled dims: the dims some size symbol is the minibatch of.
    for (int s = 0; s < m.n_sizes; ++s) {
      if (!is_batch_symbol(m, s)) continue;
      Sub sub;
      sub.dim = m.size_dims[s];
      sub.symbol = s;
      subs_.push_back(sub);
    }
    train_ = bind(data, "");
    for (Sub& sub : subs_) {
      // A dim no data input gives (a kernel set that reads no data, such as sample_model's)
      // has no rows to train on; sampling gives it its own rows.
      sub.n = train_.dims.count(sub.dim) ? train_.dims.at(sub.dim) : 0;
      auto b = options.batch.find(sub.dim);
      std::int64_t want = b != options.batch.end() ? b->second : options.default_batch;
      if (want <= 0) throw RuntimeError("--batch " + sub.dim + "=" + std::to_string(want) + ": must be positive");
      sub.m = std::min(want, sub.n);
      sub.batches = sub.m > 0 ? (sub.n + sub.m - 1) / sub.m : 1;
      sub.site = static_cast<std::uint64_t>(fnv1a(sub.dim, 0x5eed));
    }
    for (const auto& [dim, m] : options.batch) {
      bool known = std::any_of(subs_.begin(), subs_.end(), [&](const Sub& sub) { return sub.dim == dim; });
      if (!known) {
        std::string dims;
        for (const Sub& sub : subs_) dims += (dims.empty() ? "" : ", ") + sub.dim;
        throw RuntimeError("--batch " + dim + "=" + std::to_string(m) + ": the model has no subsampled plate over '" +
                           dim + "' (" + (dims.empty() ? std::string("it has none") : "its subsampled dims: " + dims) + ")");
      }
    }
    // The primary plate: the largest (its rows are split across threads; the bound is per its
    // datapoints).
    primary_index_ = -1;
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      if (primary_index_ < 0 || subs_[j].n > subs_[primary_index_].n) primary_index_ = static_cast<int>(j);
    }
    if (primary_index_ >= 0) {
      const Sub& p = subs_[primary_index_];
      primary = p.dim;
      primary_batch = p.m;
      steps_per_epoch = p.batches;
      datapoints = p.n;
    } else {
      datapoints = 1;
      for (int i = 0; i < m.n_inputs; ++i) {
        const vmc_buffer_info& b = m.inputs[i];
        if (b.kind == VMC_DATA && b.rank > 0) {
          datapoints = std::max<std::int64_t>(1, train_.shapes.at(b.name)[0]);
          break;
        }
      }
    }
    // Params and the optimizer's state.
    params_.resize(m.n_inputs);
    moments_.resize(m.n_inputs);
    for (int i = 0; i < m.n_inputs; ++i) {
      const vmc_buffer_info& b = m.inputs[i];
      if (b.kind != VMC_PARAM) continue;
      std::size_t count = 1;
      std::vector<std::int64_t> shape;
      for (int k = 0; k < b.rank; ++k) {
        if (b.extents[k] < 0) throw RuntimeError(std::string("param '") + b.name + "' has a run-time extent");
        count *= static_cast<std::size_t>(b.extents[k]);
        shape.push_back(b.extents[k]);
      }
      auto it = init.find(b.name);
      if (it == init.end()) throw RuntimeError(std::string("no initial values for param '") + b.name + "'");
      if (it->second.size() != count) {
        throw RuntimeError(std::string("initial values for param '") + b.name + "': " +
                           std::to_string(it->second.size()) + " values for shape " + shape_text(shape));
      }
      params_[i].resize(count);
      for (std::size_t k = 0; k < count; ++k) params_[i].data[k] = static_cast<T>(it->second[k]);
      int slots = options.optimizer == OptimizerKind::Adam ? 2 : options.optimizer == OptimizerKind::Sgd ? 0 : 1;
      moments_[i].resize(slots);
      for (Aligned<T>& mom : moments_[i]) {
        mom.resize(count);
        mom.zero();
      }
      param_inputs_.push_back(i);
    }
    grad_kernel_ = find_kernel("elbo_grad");
    if (grad_kernel_) {
      for (int o = 1; o < grad_kernel_->n_outputs; ++o) {
        std::string name = grad_kernel_->outputs[o].name;
        int input = -1;
        for (int i : param_inputs_) {
          if (name == std::string("grad.") + m.inputs[i].name) input = i;
        }
        if (input < 0) throw RuntimeError("elbo_grad output '" + name + "' names no param");
        grad_of_.push_back(input);
      }
    }
    slots_.resize(options.threads + 1);  // one per thread, one for the rows-free part
    step_specs_.resize(options.threads + 1);
    barrier_.set_size(options.threads);
    step_sumsq_.assign(options.threads, 0.0);
    step_bad_.resize(options.threads);
  }

  // ---- binding data ----

  Dataset<T> bind(const Arrays& arrays, const std::string& what) const {
    const vmc_model_info& m = *info;
    Dataset<T> ds;
    auto set_dim = [&](const std::string& dim, std::int64_t v, const std::string& array) {
      auto [it, fresh] = ds.dims.emplace(dim, v);
      if (!fresh && it->second != v) {
        throw RuntimeError(what + "data '" + array + "' has " + std::to_string(v) + " along dim " + dim +
                           ", but other data give " + dim + " = " + std::to_string(it->second));
      }
    };
    for (int i = 0; i < m.n_inputs; ++i) {
      const vmc_buffer_info& b = m.inputs[i];
      if (b.kind != VMC_DATA) continue;
      auto found = arrays.find(b.name);
      if (found == arrays.end()) {
        throw RuntimeError(what + "the model reads data '" + std::string(b.name) +
                           "' but none was given (bind it with --data " + b.name + "=PATH)");
      }
      const data::Array& a = found->second;
      std::string declared = "[";
      for (int k = 0; k < b.rank; ++k) {
        std::int64_t e = b.extents[k];
        declared += (k ? ", " : "") + (e >= 0 ? std::to_string(e) : std::string(m.size_dims[-e - 1]));
      }
      declared += "]";
      if (static_cast<int>(a.shape.size()) != b.rank) {
        throw RuntimeError(what + "data '" + a.name + "' has shape " + shape_text(a.shape) +
                           " but the model declares " + declared);
      }
      for (int k = 0; k < b.rank; ++k) {
        std::int64_t e = b.extents[k];
        if (e >= 0 && a.shape[k] != e) {
          throw RuntimeError(what + "data '" + a.name + "' has shape " + shape_text(a.shape) +
                             " but the model declares " + declared);
        }
        if (e < 0) set_dim(m.size_dims[-e - 1], a.shape[k], a.name);
      }
      ds.shapes[a.name] = a.shape;
      if (b.is_int) {
        std::vector<std::int64_t>& v = ds.ints[a.name];
        v.resize(a.values.size());
        for (std::size_t k = 0; k < v.size(); ++k) {
          double x = a.values[k];
          if (x != std::trunc(x) || std::abs(x) > 9.0e15) {
            throw RuntimeError(what + "data '" + a.name + "' must hold integers; element " +
                               std::to_string(k) + " is " + std::to_string(x));
          }
          v[k] = static_cast<std::int64_t>(x);
        }
      } else {
        std::vector<T>& v = ds.reals[a.name];
        v.resize(a.values.size());
        for (std::size_t k = 0; k < v.size(); ++k) {
          if (!std::isfinite(a.values[k])) {
            throw RuntimeError(what + "data '" + a.name + "' element " + std::to_string(k) + " is not finite");
          }
          v[k] = static_cast<T>(a.values[k]);
        }
      }
    }
    return ds;
  }

  const vmc_kernel_info* find_kernel(const std::string& name) const {
    for (int k = 0; k < info->n_kernels; ++k) {
      if (name == info->kernels[k].name) return &info->kernels[k];
    }
    return nullptr;
  }
  const vmc_kernel_info& kernel(const std::string& name) const {
    const vmc_kernel_info* k = find_kernel(name);
    if (!k) throw RuntimeError("the model was not compiled with a '" + name + "' kernel");
    return *k;
  }

  // ---- one kernel call ----

  struct Slot {
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
    std::vector<std::int64_t> sizes;
    std::vector<Aligned<T>> reals;
    std::vector<std::vector<std::int64_t>> ints;
    std::vector<Aligned<T>> outs;
    std::vector<std::vector<std::int64_t>> out_shapes;
    Aligned<unsigned char> workspace;
  };

  // What one call sees: the rows of each subsampled dim (datapoint indices) and the whole
  // batch's size per dim (the N/M scaling), the noise step, fixed noise.
  struct CallSpec {
    std::vector<std::span<const std::int64_t>> rows;  // per sub
    std::vector<std::int64_t> batch;                   // per sub
    std::uint64_t noise_step = 0;
    const std::map<std::string, std::vector<double>>* fixed = nullptr;
  };

  std::int64_t dim_value(const Dataset<T>& ds, const std::string& dim) const {
    auto it = ds.dims.find(dim);
    if (it == ds.dims.end()) throw RuntimeError("no data gives the extent of dim " + dim);
    return it->second;
  }

  std::int64_t extent(std::int64_t e, const std::vector<std::int64_t>& sizes) const {
    return e >= 0 ? e : sizes[-e - 1];
  }

  void call(const vmc_kernel_info& k, Slot& slot, const Dataset<T>& ds, const CallSpec& spec) const {
    const vmc_model_info& m = *info;
    slot.sizes.resize(m.n_sizes);
    for (int s = 0; s < m.n_sizes; ++s) {
      int j = sub_of_symbol(s);
      slot.sizes[s] = j >= 0 ? static_cast<std::int64_t>(spec.rows[j].size()) : dim_value(ds, m.size_dims[s]);
    }
    slot.inputs.resize(m.n_inputs);
    slot.reals.resize(m.n_inputs);
    slot.ints.resize(m.n_inputs);
    std::uint32_t noise_site = 0;
    for (int i = 0; i < m.n_inputs; ++i) {
      const vmc_buffer_info& b = m.inputs[i];
      if (k.reads && !k.reads[i]) {
        // Not read by this kernel (another kernel's noise, data a sampler does not need): no
        // buffer, no draws. The site number stays the input's own.
        if (b.kind == VMC_NOISE || b.kind == VMC_UNIFORM) ++noise_site;
        slot.inputs[i] = nullptr;
        continue;
      }
      switch (b.kind) {
        case VMC_PARAM: slot.inputs[i] = params_[i].data; break;
        case VMC_DATA: {
          int j = *b.role ? sub_of_dim(b.role) : -1;
          if (j < 0) {
            slot.inputs[i] = b.is_int ? static_cast<const void*>(ds.ints.at(b.name).data())
                                      : static_cast<const void*>(ds.reals.at(b.name).data());
            break;
          }
          const std::vector<std::int64_t>& shape = ds.shapes.at(b.name);
          std::size_t row = 1;
          for (std::size_t d = 1; d < shape.size(); ++d) row *= static_cast<std::size_t>(shape[d]);
          std::span<const std::int64_t> rows = spec.rows[j];
          if (b.is_int) {
            const std::vector<std::int64_t>& src = ds.ints.at(b.name);
            std::vector<std::int64_t>& dst = slot.ints[i];
            dst.resize(std::max<std::size_t>(1, rows.size() * row));
            for (std::size_t r = 0; r < rows.size(); ++r) {
              std::copy_n(src.data() + rows[r] * row, row, dst.data() + r * row);
            }
            slot.inputs[i] = dst.data();
          } else {
            const std::vector<T>& src = ds.reals.at(b.name);
            Aligned<T>& dst = slot.reals[i];
            dst.resize(rows.size() * row);
            for (std::size_t r = 0; r < rows.size(); ++r) {
              std::memcpy(dst.data + r * row, src.data() + rows[r] * row, row * sizeof(T));
            }
            slot.inputs[i] = dst.data;
          }
          break;
        }
        case VMC_INDEX: {
          int j = sub_of_dim(b.role);
          std::vector<std::int64_t>& dst = slot.ints[i];
          dst.assign(spec.rows[j].begin(), spec.rows[j].end());
          if (dst.empty()) dst.push_back(0);
          slot.inputs[i] = dst.data();
          break;
        }
        case VMC_SIZE: {
          Aligned<T>& dst = slot.reals[i];
          dst.resize(1);
          int s = symbol_named(b.name);
          int j = s >= 0 ? sub_of_symbol(s) : -1;
          std::int64_t v = j >= 0 ? spec.batch[j] : dim_value(ds, s >= 0 ? m.size_dims[s] : b.name);
          dst.data[0] = static_cast<T>(v);
          slot.inputs[i] = dst.data;
          break;
        }
        case VMC_NOISE:
        case VMC_UNIFORM: {
          std::uint32_t site = noise_site++;
          Aligned<T>& dst = slot.reals[i];
          std::size_t count = 1;
          for (int d = 0; d < b.rank; ++d) count *= static_cast<std::size_t>(extent(b.extents[d], slot.sizes));
          dst.resize(count);
          slot.inputs[i] = dst.data;
          if (spec.fixed) {
            auto f = spec.fixed->find(b.name);
            if (f != spec.fixed->end()) {
              if (f->second.size() != count) {
                throw RuntimeError(std::string("fixed values for '") + b.name + "': " +
                                   std::to_string(f->second.size()) + " given, " + std::to_string(count) + " needed");
              }
              for (std::size_t e = 0; e < count; ++e) dst.data[e] = static_cast<T>(f->second[e]);
              break;
            }
          }
          fill_noise(b, site, spec, slot.sizes, dst.data, count);
          break;
        }
        default: throw RuntimeError(std::string("input '") + b.name + "' has an unknown kind");
      }
    }
    slot.outputs.resize(k.n_outputs);
    slot.outs.resize(k.n_outputs);
    slot.out_shapes.resize(k.n_outputs);
    for (int o = 0; o < k.n_outputs; ++o) {
      const vmc_buffer_info& b = k.outputs[o];
      std::size_t count = 1;
      slot.out_shapes[o].clear();
      for (int d = 0; d < b.rank; ++d) {
        std::int64_t e = extent(b.extents[d], slot.sizes);
        slot.out_shapes[o].push_back(e);
        count *= static_cast<std::size_t>(e);
      }
      slot.outs[o].resize(count);
      slot.outputs[o] = slot.outs[o].data;
    }
    slot.workspace.resize(static_cast<std::size_t>(k.workspace_bytes(slot.sizes.data())));
    k.entry(slot.inputs.data(), slot.sizes.data(), slot.outputs.data(), slot.workspace.data);
  }

  void fill_noise(const vmc_buffer_info& b, std::uint32_t site, const CallSpec& spec,
                  const std::vector<std::int64_t>& sizes, T* out, std::size_t count) const {
    const std::uint64_t seed = options.seed;
    bool uniform = b.kind == VMC_UNIFORM;
    int j = -1;
    if (b.rank > 0 && b.extents[0] < 0) j = sub_of_symbol(static_cast<int>(-b.extents[0] - 1));
    if (j >= 0) {
      // One row per datapoint, keyed by its index in the data: the same noise whichever
      // thread or batch position draws it.
      std::span<const std::int64_t> rows = spec.rows[j];
      std::size_t row = rows.empty() ? 0 : count / rows.size();
      for (std::size_t r = 0; r < rows.size(); ++r) {
        auto index = static_cast<std::uint64_t>(rows[r]);
        if (uniform) fill_uniform(seed, spec.noise_step, site, index, 1, static_cast<std::int64_t>(row), out + r * row);
        else fill_normal(seed, spec.noise_step, site, index, 1, static_cast<std::int64_t>(row), out + r * row);
      }
      return;
    }
    std::int64_t rows = b.rank > 0 ? extent(b.extents[0], sizes) : 1;
    std::int64_t row = rows > 0 ? static_cast<std::int64_t>(count) / rows : 0;
    if (rows == 0 || row == 0) return;
    if (uniform) fill_uniform(seed, spec.noise_step, site, 0, rows, row, out);
    else fill_normal(seed, spec.noise_step, site, 0, rows, row, out);
  }

  int sub_of_symbol(int s) const {
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      if (subs_[j].symbol == s) return static_cast<int>(j);
    }
    return -1;
  }
  int sub_of_dim(const std::string& dim) const {
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      if (subs_[j].dim == dim) return static_cast<int>(j);
    }
    throw RuntimeError("input batched over dim '" + dim + "', which is not subsampled");
  }
  int symbol_named(const std::string& name) const {
    for (int s = 0; s < info->n_sizes; ++s) {
      if (name == info->sizes[s]) return s;
    }
    return -1;
  }

  // ---- minibatches ----

  // Rows of batch `b` of epoch `epoch` of sub j: a seeded Fisher–Yates shuffle per epoch.
  std::span<const std::int64_t> batch_rows(std::size_t j, std::int64_t step) {
    Sub& s = subs_[j];
    std::int64_t epoch = step / s.batches, b = step % s.batches;
    if (s.perm_epoch != epoch || s.perm.empty()) {
      s.perm.resize(static_cast<std::size_t>(s.n));
      std::iota(s.perm.begin(), s.perm.end(), std::int64_t{0});
      std::uint64_t state = options.seed ^ (s.site * 0x9E3779B97F4A7C15ull) ^ (static_cast<std::uint64_t>(epoch) << 1);
      splitmix64(state);
      for (std::int64_t i = s.n - 1; i > 0; --i) {
        auto k = static_cast<std::int64_t>(splitmix64(state) % static_cast<std::uint64_t>(i + 1));
        std::swap(s.perm[i], s.perm[k]);
      }
      s.perm_epoch = epoch;
    }
    std::int64_t begin = b * s.m, end = std::min(s.n, begin + s.m);
    return {s.perm.data() + begin, static_cast<std::size_t>(end - begin)};
  }

  // ---- a training step ----

  StepResult step() override {
    const vmc_kernel_info& k = kernel("elbo_grad");
    for (const Sub& sub : subs_) {
      if (sub.n == 0) throw RuntimeError("no data rows for the plate over " + sub.dim);
    }
    const int threads = options.threads;
    // Every buffer below is a member reused from step to step: a step allocates nothing.
    CallSpec& base = step_base_;
    base.rows.clear();
    base.batch.clear();
    base.noise_step = static_cast<std::uint64_t>(steps);
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      base.rows.push_back(batch_rows(j, steps));
      base.batch.push_back(static_cast<std::int64_t>(base.rows.back().size()));
    }
    StepResult result;
    result.rows = primary_index_ >= 0 ? base.batch[primary_index_] : datapoints;
    bool split = threads > 1 && info->rows_additive && primary_index_ >= 0 &&
                 base.batch[primary_index_] >= threads;
    int parts = split ? threads : 1;
    pool_.run([&](int t) {
      if (t < parts) {
        CallSpec& spec = step_specs_[t];
        spec = base;
        if (split) {
          auto [b, e] = part(base.rows[primary_index_].size(), parts, t);
          spec.rows[primary_index_] = base.rows[primary_index_].subspan(b, e - b);
        }
        call(k, slots_[t], train_, spec);
      }
      // The part of the bound that does not depend on the rows, counted once per part: the
      // sum takes it back out (parts − 1) times.
      if (split && info->row_free_part && t == parts - 1) {
        CallSpec& none = step_specs_[threads];
        none = base;
        none.rows[primary_index_] = {};
        call(k, slots_[threads], train_, none);
      }
    });
    // Sum the parts (slices of every gradient across threads), check them, take the step.
    const int n_out = k.n_outputs;
    double elbo = 0;
    for (int t = 0; t < parts; ++t) elbo += static_cast<double>(slots_[t].outs[0].data[0]);
    const bool correct = split && info->row_free_part;
    if (correct) elbo -= (parts - 1) * static_cast<double>(slots_[threads].outs[0].data[0]);
    result.elbo = elbo;
    result.elbo_per_datapoint = elbo / static_cast<double>(datapoints);
    std::vector<double>& sumsq = step_sumsq_;
    std::vector<std::string>& bad = step_bad_;
    std::fill(sumsq.begin(), sumsq.end(), 0.0);
    for (std::string& b : bad) b.clear();
    pool_.run([&](int t) {
      for (int o = 1; o < n_out && bad[t].empty(); ++o) {
        T* g0 = slots_[0].outs[o].data;
        auto [b, e] = part(slots_[0].outs[o].size, threads, t);
        if (split) {
          const T* ge = correct ? slots_[threads].outs[o].data : nullptr;
          const T rest = static_cast<T>(parts - 1);
          for (int p = 1; p < parts; ++p) {
            const T* gp = slots_[p].outs[o].data;
            for (std::size_t i = b; i < e; ++i) g0[i] += gp[i];
          }
          if (correct) {
            for (std::size_t i = b; i < e; ++i) g0[i] -= rest * ge[i];
          }
        }
        // The sum of squares in 16 float lanes (vectorises without reassociating a serial sum);
        // a NaN or Inf anywhere makes it non-finite, and then the slice is searched.
        constexpr std::size_t kLanes = 16;
        T lanes[kLanes] = {};
        std::size_t i = b;
        for (; i + kLanes <= e; i += kLanes) {
          for (std::size_t l = 0; l < kLanes; ++l) lanes[l] += g0[i + l] * g0[i + l];
        }
        double ss = 0;
        for (; i < e; ++i) ss += static_cast<double>(g0[i]) * static_cast<double>(g0[i]);
        for (T l : lanes) ss += static_cast<double>(l);
        if (!std::isfinite(ss)) {
          ss = 0;
          for (std::size_t x = b; x < e; ++x) ss += static_cast<double>(g0[x]) * static_cast<double>(g0[x]);
        }
        if (!std::isfinite(ss)) {
          for (std::size_t i = b; i < e; ++i) {
            if (!std::isfinite(g0[i])) {
              bad[t] = std::string("the gradient of '") + info->inputs[grad_of_[o - 1]].name + "' is " +
                       (std::isnan(g0[i]) ? "NaN" : "infinite") + " at element " + std::to_string(i);
              break;
            }
          }
        }
        sumsq[t] += ss;
      }
      barrier_.wait();
      // Every thread decides the same from the same numbers: all update their slices, or none.
      bool ok = std::isfinite(elbo);
      for (const std::string& problem : bad) ok &= problem.empty();
      if (!ok) return;
      double scale = 1.0 / static_cast<double>(datapoints);
      if (options.clip_grad > 0) {
        double norm = std::sqrt(std::accumulate(sumsq.begin(), sumsq.end(), 0.0)) * scale;
        if (norm > options.clip_grad) scale *= options.clip_grad / norm;
      }
      update_slice(k, scale, t, updates + 1);
    });
    if (!std::isfinite(elbo)) {
      result.finite = false;
      result.problem = std::string("the bound is ") + (std::isnan(elbo) ? "NaN" : "infinite");
    }
    for (int t = 0; t < threads && result.finite; ++t) {
      if (!bad[t].empty()) {
        result.finite = false;
        result.problem = bad[t];
      }
    }
    ++steps;
    seen += result.rows;
    if (result.finite) ++updates;  // the threads have taken the step
    return result;
  }

  // Thread th's slice of every param moved up its gradient (already summed into slot 0), times
  // `scale`; t is the update's number (Adam's bias correction).
  void update_slice(const vmc_kernel_info& k, double scale, int th, std::int64_t step_number) {
    const double lr = options.lr;
    const OptimizerKind kind = options.optimizer;
    const double t = static_cast<double>(step_number);
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum = 0.9, alpha = 0.99;
    const T bc1 = static_cast<T>(1 - std::pow(beta1, t)), bc2 = static_cast<T>(1 - std::pow(beta2, t));
    const int threads = options.threads;
    {
      for (int o = 1; o < k.n_outputs; ++o) {
        int i = grad_of_[o - 1];
        T* p = params_[i].data;
        const T* g = slots_[0].outs[o].data;
        auto [b, e] = part(params_[i].size, threads, th);
        const T s = static_cast<T>(scale), r = static_cast<T>(lr);
        switch (kind) {
          case OptimizerKind::Sgd:
            for (std::size_t x = b; x < e; ++x) p[x] += r * s * g[x];
            break;
          case OptimizerKind::Momentum: {
            T* v = moments_[i][0].data;
            for (std::size_t x = b; x < e; ++x) {
              v[x] = static_cast<T>(momentum) * v[x] + s * g[x];
              p[x] += r * v[x];
            }
            break;
          }
          case OptimizerKind::Adagrad: {
            T* h = moments_[i][0].data;
            for (std::size_t x = b; x < e; ++x) {
              T gx = s * g[x];
              h[x] += gx * gx;
              p[x] += r * gx / (std::sqrt(h[x]) + static_cast<T>(1e-10));
            }
            break;
          }
          case OptimizerKind::RmsProp: {
            T* v = moments_[i][0].data;
            for (std::size_t x = b; x < e; ++x) {
              T gx = s * g[x];
              v[x] = static_cast<T>(alpha) * v[x] + static_cast<T>(1 - alpha) * gx * gx;
              p[x] += r * gx / (std::sqrt(v[x]) + static_cast<T>(eps));
            }
            break;
          }
          case OptimizerKind::Adam: {
            // PyTorch's form: step lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps.
            T* m1 = moments_[i][0].data;
            T* m2 = moments_[i][1].data;
            const T step_size = r / bc1, root_bc2 = std::sqrt(bc2);
            const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), ep = static_cast<T>(eps);
            for (std::size_t x = b; x < e; ++x) {
              T gx = s * g[x];
              m1[x] = b1 * m1[x] + (1 - b1) * gx;
              m2[x] = b2 * m2[x] + (1 - b2) * gx * gx;
              p[x] += step_size * m1[x] / (std::sqrt(m2[x]) / root_bc2 + ep);
            }
            break;
          }
        }
      }
    }
  }

  // ---- evaluation and sampling ----

  double evaluate(const Arrays& arrays, const std::string& name, std::uint64_t stream,
                  std::int64_t batch) override {
    const vmc_kernel_info& k = kernel(name);
    Dataset<T> ds = bind(arrays, "test ");
    const int threads = options.threads;
    std::vector<std::vector<std::int64_t>> all(subs_.size());
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      all[j].resize(static_cast<std::size_t>(dim_value(ds, subs_[j].dim)));
      std::iota(all[j].begin(), all[j].end(), std::int64_t{0});
    }
    std::int64_t n = primary_index_ >= 0 ? static_cast<std::int64_t>(all[primary_index_].size()) : 1;
    std::int64_t per = primary_index_ >= 0 ? (batch > 0 ? batch : primary_batch) : 1;
    std::int64_t batches = primary_index_ >= 0 ? (n + per - 1) / per : 1;
    if (n == 0) throw RuntimeError("test data has no rows");
    std::vector<double> values(static_cast<std::size_t>(batches), 0.0);
    std::vector<Slot> slots(threads);
    pool_.run([&](int t) {
      for (std::int64_t b = t; b < batches; b += threads) {
        CallSpec spec;
        spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(b));
        for (std::size_t j = 0; j < subs_.size(); ++j) {
          std::span<const std::int64_t> rows(all[j]);
          if (static_cast<int>(j) == primary_index_) {
            std::int64_t begin = b * per, end = std::min(n, begin + per);
            rows = rows.subspan(begin, end - begin);
          }
          spec.rows.push_back(rows);
          spec.batch.push_back(static_cast<std::int64_t>(rows.size()));
        }
        call(k, slots[t], ds, spec);
        // Each batch estimates the whole bound (scaled N/M_b): weight by its share of rows.
        double share = primary_index_ >= 0 ? static_cast<double>(spec.batch[primary_index_]) / n : 1.0;
        values[b] = share * static_cast<double>(slots[t].outs[0].data[0]);
      }
    });
    double total = 0;
    for (double v : values) total += v;
    std::int64_t per_datapoint = primary_index_ >= 0 ? n : test_datapoints(ds);
    return total / static_cast<double>(per_datapoint);
  }

  void check_data(const Arrays& arrays) const override { bind(arrays, "test "); }

  GemmProfile record_step() override {
    GemmProfile profile;
    profile.per_thread.resize(static_cast<std::size_t>(options.threads));
    pool_.run([&](int t) { detail::t_gemm_log = &profile.per_thread[t]; });
    try {
      step();
    } catch (...) {
      pool_.run([&](int) { detail::t_gemm_log = nullptr; });
      throw;
    }
    pool_.run([&](int) { detail::t_gemm_log = nullptr; });
    return profile;
  }

  double replay_gemms(const GemmProfile& profile, int repeats) override {
    const int threads = options.threads;
    // Each thread's operands, as large as its largest call needs, filled once.
    std::vector<std::vector<T>> a(threads), b(threads), c(threads);
    for (int t = 0; t < threads && t < static_cast<int>(profile.per_thread.size()); ++t) {
      std::size_t na = 1, nb = 1, nc = 1;
      for (const GemmCall& g : profile.per_thread[t]) {
        na = std::max<std::size_t>(na, static_cast<std::size_t>((g.transpose_a ? g.k : g.m) * g.lda));
        nb = std::max<std::size_t>(nb, static_cast<std::size_t>((g.transpose_b ? g.n : g.k) * g.ldb));
        nc = std::max<std::size_t>(nc, static_cast<std::size_t>(g.m * g.ldc));
      }
      a[t].assign(na, T(0.01));
      b[t].assign(nb, T(0.02));
      c[t].assign(nc, T(0));
    }
    auto run = [&](int reps) {
      pool_.run([&](int t) {
        if (t >= static_cast<int>(profile.per_thread.size())) return;
        for (int r = 0; r < reps; ++r) {
          for (const GemmCall& g : profile.per_thread[t]) {
            if constexpr (sizeof(T) == 4) {
              vmc_gemm_f32(g.transpose_a, g.transpose_b, g.m, g.n, g.k, 1.0f, a[t].data(), g.lda, b[t].data(), g.ldb,
                           0.0f, c[t].data(), g.ldc);
            } else {
              vmc_gemm_f64(g.transpose_a, g.transpose_b, g.m, g.n, g.k, 1.0, a[t].data(), g.lda, b[t].data(), g.ldb,
                           0.0, c[t].data(), g.ldc);
            }
          }
        }
      });
    };
    run(std::max(1, repeats / 10));  // warm-up
    auto start = std::chrono::steady_clock::now();
    run(repeats);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  }

  double importance_weighted(const Arrays& arrays, const std::string& name, std::int64_t K,
                             std::uint64_t stream, std::int64_t batch) override {
    const vmc_kernel_info& k = kernel(name);
    if (primary_index_ < 0 || subs_.size() != 1) {
      throw RuntimeError("per-datapoint importance weights need one subsampled plate");
    }
    if (K < 1) throw RuntimeError("iwae needs at least one sample");
    Dataset<T> ds = bind(arrays, "test ");
    const int threads = options.threads;
    std::int64_t n = dim_value(ds, subs_[0].dim);
    if (n == 0) throw RuntimeError("test data has no rows");
    std::vector<std::int64_t> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    std::int64_t per = batch > 0 ? batch : primary_batch;
    std::vector<Slot> slots(threads);
    // Per thread, a running log-sum-exp per datapoint over its share of the K draws.
    std::vector<std::vector<double>> top(threads), sum(threads);
    double total = 0;
    for (std::int64_t begin = 0; begin < n; begin += per) {
      std::int64_t end = std::min(n, begin + per), m = end - begin;
      for (int t = 0; t < threads; ++t) {
        top[t].assign(static_cast<std::size_t>(m), -INFINITY);
        sum[t].assign(static_cast<std::size_t>(m), 0.0);
      }
      pool_.run([&](int t) {
        CallSpec spec;
        spec.rows.push_back(std::span<const std::int64_t>(all).subspan(begin, m));
        spec.batch.push_back(m);
        for (std::int64_t c = t; c < K; c += threads) {
          // Draw c of every datapoint: its noise depends on (c, datapoint), not on the batching.
          spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(c));
          call(k, slots[t], ds, spec);
          const T* w = slots[t].outs[0].data;
          for (std::int64_t r = 0; r < m; ++r) {
            double x = static_cast<double>(w[r]);
            double& mx = top[t][r];
            double& s = sum[t][r];
            if (x > mx) {
              s = s * std::exp(mx - x) + 1.0;
              mx = x;
            } else {
              s += std::exp(x - mx);
            }
          }
        }
      });
      for (std::int64_t r = 0; r < m; ++r) {
        double mx = -INFINITY;
        for (int t = 0; t < threads; ++t) mx = std::max(mx, top[t][r]);
        double s = 0;
        for (int t = 0; t < threads; ++t) {
          if (sum[t][r] > 0) s += sum[t][r] * std::exp(top[t][r] - mx);
        }
        total += mx + std::log(s / static_cast<double>(K));
      }
    }
    return total / static_cast<double>(n);
  }

  std::int64_t test_datapoints(const Dataset<T>& ds) const {
    for (int i = 0; i < info->n_inputs; ++i) {
      const vmc_buffer_info& b = info->inputs[i];
      if (b.kind == VMC_DATA && b.rank > 0) return std::max<std::int64_t>(1, ds.shapes.at(b.name)[0]);
    }
    return 1;
  }

  Draws sample(const std::string& name, std::int64_t count, std::int64_t rows, std::uint64_t stream,
               const Arrays* arrays, const std::map<std::string, std::vector<double>>& noise) override {
    const vmc_kernel_info& k = kernel(name);
    // The training data as it is when it gives every dim (no copy); otherwise a dataset whose
    // subsampled dims have just the rows drawn.
    bool own = arrays != nullptr;
    for (const Sub& sub : subs_) own |= !train_.dims.count(sub.dim);
    Dataset<T> copy;
    if (own) {
      copy = arrays ? bind(*arrays, "") : train_;
      for (const Sub& sub : subs_) copy.dims.emplace(sub.dim, rows);
    }
    const Dataset<T>& ds = own ? copy : train_;
    std::vector<std::vector<std::int64_t>> all(subs_.size());
    CallSpec spec;
    spec.fixed = &noise;
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      std::int64_t n = std::min(rows, ds.dims.at(subs_[j].dim));
      all[j].resize(static_cast<std::size_t>(n));
      std::iota(all[j].begin(), all[j].end(), std::int64_t{0});
      spec.rows.push_back(all[j]);
      spec.batch.push_back(n);
    }
    Draws d;
    d.count = count;
    Slot slot;
    for (std::int64_t c = 0; c < count; ++c) {
      spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(c));
      call(k, slot, ds, spec);
      if (c == 0) {
        for (int o = 0; o < k.n_outputs; ++o) {
          d.names.push_back(k.outputs[o].name);
          d.shapes.push_back(slot.out_shapes[o]);
          d.values.emplace_back().reserve(slot.outs[o].size * static_cast<std::size_t>(count));
        }
      }
      for (int o = 0; o < k.n_outputs; ++o) {
        for (std::size_t e = 0; e < slot.outs[o].size; ++e) d.values[o].push_back(static_cast<double>(slot.outs[o].data[e]));
      }
    }
    return d;
  }

  std::vector<double> whole_data_draws(const std::string& name, std::int64_t count,
                                       std::uint64_t stream) override {
    const vmc_kernel_info& k = kernel(name);
    const int threads = options.threads;
    std::vector<std::vector<std::int64_t>> all(subs_.size());
    CallSpec base;
    for (std::size_t j = 0; j < subs_.size(); ++j) {
      all[j].resize(static_cast<std::size_t>(subs_[j].n));
      std::iota(all[j].begin(), all[j].end(), std::int64_t{0});
      base.rows.push_back(all[j]);
      base.batch.push_back(subs_[j].n);
    }
    std::vector<double> out(static_cast<std::size_t>(count));
    std::vector<Slot> slots(threads);
    pool_.run([&](int t) {
      for (std::int64_t c = t; c < count; c += threads) {
        CallSpec spec = base;
        spec.noise_step = eval_step(stream, static_cast<std::uint64_t>(c));
        call(k, slots[t], train_, spec);
        out[c] = static_cast<double>(slots[t].outs[0].data[0]);
      }
    });
    return out;
  }

  std::vector<double> param(const std::string& name) const override {
    for (int i : param_inputs_) {
      if (name == info->inputs[i].name) {
        const Aligned<T>& p = params_[i];
        return std::vector<double>(p.data, p.data + p.size);
      }
    }
    throw RuntimeError("no param named '" + name + "'");
  }

  // ---- state ----

  std::uint64_t fingerprint() const {
    std::uint64_t h = fnv1a(&info->real_bytes, sizeof info->real_bytes);
    for (int i : param_inputs_) {
      const vmc_buffer_info& b = info->inputs[i];
      h = fnv1a(std::string(b.name), h);
      h = fnv1a(b.extents, sizeof(std::int64_t) * b.rank, h);
      h = fnv1a(&b.transform, sizeof b.transform, h);
    }
    return h;
  }

  std::string save_state() const override {
    Writer w;
    w.out = "vmc-engine";
    w.pod<std::uint32_t>(1);
    w.pod<std::uint64_t>(fingerprint());
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(options.optimizer));
    w.pod<std::uint64_t>(options.seed);
    w.pod<std::int64_t>(primary_batch);
    w.pod<std::int64_t>(steps);
    w.pod<std::int64_t>(seen);
    w.pod<std::int64_t>(updates);
    for (int i : param_inputs_) {
      w.str(info->inputs[i].name);
      w.bytes(params_[i].data, params_[i].size * sizeof(T));
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(moments_[i].size()));
      for (const Aligned<T>& m : moments_[i]) w.bytes(m.data, m.size * sizeof(T));
    }
    return w.out;
  }

  void restore_state(const std::string& bytes, bool params_only) override {
    Reader r{bytes};
    r.need(10);
    if (bytes.compare(0, 10, "vmc-engine") != 0) throw RuntimeError("checkpoint: not a vmc engine state");
    r.at = 10;
    if (r.pod<std::uint32_t>() != 1) throw RuntimeError("checkpoint: written by another version of vmc");
    std::uint64_t print = r.pod<std::uint64_t>();
    auto opt = static_cast<OptimizerKind>(r.pod<std::uint32_t>());
    if (params_only) {
      // By name: a model compiled with fewer kernels reads fewer params.
      r.pod<std::uint64_t>();
      r.pod<std::int64_t>();
      for (int k = 0; k < 3; ++k) r.pod<std::int64_t>();
      std::map<std::string, std::string> stored;
      while (r.at < bytes.size()) {
        std::string name = r.str();
        auto n = r.pod<std::uint64_t>();
        r.need(n);
        stored[name] = bytes.substr(r.at, n);
        r.at += n;
        auto slots = r.pod<std::uint32_t>();
        for (std::uint32_t k = 0; k < slots; ++k) {
          auto m = r.pod<std::uint64_t>();
          r.need(m);
          r.at += m;
        }
      }
      for (int i : param_inputs_) {
        auto it = stored.find(info->inputs[i].name);
        if (it == stored.end()) {
          throw RuntimeError(std::string("checkpoint: it has no param '") + info->inputs[i].name +
                             "' (it belongs to another model)");
        }
        if (it->second.size() != params_[i].size * sizeof(T)) {
          throw RuntimeError(std::string("checkpoint: param '") + info->inputs[i].name +
                             "' has another size or precision than this model's (check --precision and --set)");
        }
        std::memcpy(params_[i].data, it->second.data(), it->second.size());
      }
      return;
    }
    if (print != fingerprint()) {
      throw RuntimeError("checkpoint: it belongs to another model (its params or precision differ)");
    }
    if (opt != options.optimizer) {
      throw RuntimeError(std::string("checkpoint: written with --optimizer ") + to_string(opt) +
                         "; resume with the same optimizer");
    }
    std::uint64_t seed = r.pod<std::uint64_t>();
    std::int64_t batch = r.pod<std::int64_t>();
    if (batch != primary_batch) {
      throw RuntimeError("checkpoint: written with minibatches of " + std::to_string(batch) +
                         "; resume with the same --batch");
    }
    // The noise and the shuffles continue from the checkpoint's seed.
    options.seed = seed;
    for (Sub& s : subs_) s.perm.clear();
    std::int64_t st = r.pod<std::int64_t>(), sn = r.pod<std::int64_t>(), up = r.pod<std::int64_t>();
    for (int i : param_inputs_) {
      if (r.str() != info->inputs[i].name) throw RuntimeError("checkpoint: params in another order");
      r.bytes(params_[i].data, params_[i].size * sizeof(T));
      if (r.pod<std::uint32_t>() != moments_[i].size()) throw RuntimeError("checkpoint: optimizer state differs");
      for (Aligned<T>& m : moments_[i]) r.bytes(m.data, m.size * sizeof(T));
    }
    steps = st;
    seen = sn;
    updates = up;
  }

  struct Sub {
    std::string dim;
    int symbol = -1;
    std::int64_t n = 0, m = 0, batches = 1;
    std::uint64_t site = 0;
    std::vector<std::int64_t> perm;
    std::int64_t perm_epoch = -1;
  };

  Pool pool_;
  std::vector<Sub> subs_;
  int primary_index_ = -1;
  Dataset<T> train_;
  std::vector<Aligned<T>> params_;                // by input index (empty for non-params)
  std::vector<std::vector<Aligned<T>>> moments_;  // optimizer state, by input index
  std::vector<int> param_inputs_;
  std::vector<int> grad_of_;                      // elbo_grad output o + 1 → input index
  const vmc_kernel_info* grad_kernel_ = nullptr;
  std::vector<Slot> slots_;
  SpinBarrier barrier_{1};
  CallSpec step_base_;
  std::vector<CallSpec> step_specs_;
  std::vector<double> step_sumsq_;
  std::vector<std::string> step_bad_;
};

}  // namespace

Trainer::Trainer(const vmc_model_info& info, Arrays data,
                 const std::map<std::string, std::vector<double>>& init, const TrainerOptions& options) {
  if (info.abi_version != VMC_ABI_VERSION) throw RuntimeError("the model was compiled for another ABI version");
  if (info.real_bytes == 4) impl_ = std::make_unique<Engine<float>>(info, std::move(data), init, options);
  else impl_ = std::make_unique<Engine<double>>(info, std::move(data), init, options);
}
Trainer::~Trainer() = default;

StepResult Trainer::step() { return impl_->step(); }
std::int64_t Trainer::steps_done() const { return impl_->steps; }
std::int64_t Trainer::datapoints_seen() const { return impl_->seen; }
std::int64_t Trainer::datapoints() const { return impl_->datapoints; }
const std::string& Trainer::primary_dim() const { return impl_->primary; }
std::int64_t Trainer::batch_size() const { return impl_->primary_batch; }
std::int64_t Trainer::steps_per_epoch() const { return impl_->steps_per_epoch; }
const TrainerOptions& Trainer::options() const { return impl_->options; }
const vmc_model_info& Trainer::info() const { return *impl_->info; }

std::vector<std::string> Trainer::param_names() const {
  std::vector<std::string> out;
  for (int i = 0; i < impl_->info->n_inputs; ++i) {
    if (impl_->info->inputs[i].kind == VMC_PARAM) out.push_back(impl_->info->inputs[i].name);
  }
  return out;
}

std::vector<std::int64_t> Trainer::param_shape(const std::string& name) const {
  for (int i = 0; i < impl_->info->n_inputs; ++i) {
    const vmc_buffer_info& b = impl_->info->inputs[i];
    if (b.kind == VMC_PARAM && name == b.name) return std::vector<std::int64_t>(b.extents, b.extents + b.rank);
  }
  throw RuntimeError("no param named '" + name + "'");
}

std::vector<double> Trainer::param(const std::string& name) const { return impl_->param(name); }

double Trainer::evaluate(const Arrays& data, const std::string& kernel, std::uint64_t stream,
                         std::int64_t batch) {
  return impl_->evaluate(data, kernel, stream, batch);
}

Draws Trainer::sample(const std::string& kernel, std::int64_t count, std::int64_t rows,
                      std::uint64_t stream, const Arrays* data,
                      const std::map<std::string, std::vector<double>>& noise) {
  return impl_->sample(kernel, count, rows, stream, data, noise);
}

std::string Trainer::save_state() const { return impl_->save_state(); }
void Trainer::restore_state(const std::string& bytes, bool params_only) {
  impl_->restore_state(bytes, params_only);
}

void Trainer::check_data(const Arrays& data) const { impl_->check_data(data); }
GemmProfile Trainer::record_step() { return impl_->record_step(); }
double Trainer::replay_gemms(const GemmProfile& profile, int repeats) { return impl_->replay_gemms(profile, repeats); }

double GemmProfile::flops() const {
  double f = 0;
  for (const auto& calls : per_thread) {
    for (const GemmCall& g : calls) f += 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  }
  return f;
}

std::size_t GemmProfile::calls() const {
  std::size_t n = 0;
  for (const auto& calls : per_thread) n += calls.size();
  return n;
}

double Trainer::importance_weighted(const Arrays& data, const std::string& kernel, std::int64_t k,
                                    std::uint64_t stream, std::int64_t batch) {
  return impl_->importance_weighted(data, kernel, k, stream, batch);
}

std::vector<double> Trainer::whole_data_draws(const std::string& kernel, std::int64_t count,
                                              std::uint64_t stream) {
  return impl_->whole_data_draws(kernel, count, stream);
}

}  // namespace vmc::runtime
