// The public Trainer (runtime/include/vmc/trainer.hpp) over Engine<T> (engine.hpp), and the
// engine's state as bytes (checkpoints).
#include "engine.hpp"

namespace vmc::runtime {

namespace detail {

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

template <typename T>
std::string Engine<T>::save_state() const {
  Writer w;
  w.out = "vmc-engine";
  w.pod<std::uint32_t>(1);
  w.pod<std::uint64_t>(fingerprint());
  // The optimizer by its position in optimizers() (a fixed order).
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(options.optimizer - optimizers().data()));
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

template <typename T>
void Engine<T>::restore_state(const std::string& bytes, bool params_only) {
  Reader r{bytes};
  r.need(10);
  if (bytes.compare(0, 10, "vmc-engine") != 0) throw RuntimeError("checkpoint: not a vmc engine state");
  r.at = 10;
  if (r.pod<std::uint32_t>() != 1) throw RuntimeError("checkpoint: written by another version of vmc");
  std::uint64_t print = r.pod<std::uint64_t>();
  const std::uint32_t opt = r.pod<std::uint32_t>();
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
      check_finite_param(i);
    }
    return;
  }
  if (print != fingerprint()) {
    throw RuntimeError("checkpoint: it belongs to another model (its params or precision differ)");
  }
  if (opt >= optimizers().size()) throw RuntimeError("checkpoint: written with an optimizer this vmc does not have");
  if (&optimizers()[opt] != options.optimizer) {
    throw RuntimeError("checkpoint: written with --optimizer " + std::string(optimizers()[opt].name) +
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
  for (Minibatches::Plate& s : batches_.plates) s.perm.clear();
  std::int64_t st = r.pod<std::int64_t>(), sn = r.pod<std::int64_t>(), up = r.pod<std::int64_t>();
  // Counts a fit could have reached (the noise's counter allows 2^38 steps); a checksum only
  // shows the bytes are as written, not that they were written by vmc.
  if (st < 0 || st >= (std::int64_t{1} << 38) || up < 0 || up > st || sn < 0) {
    throw RuntimeError("checkpoint: its step counts are impossible (steps " + std::to_string(st) + ", updates " +
                       std::to_string(up) + ", datapoints seen " + std::to_string(sn) + "): it is damaged");
  }
  for (int i : param_inputs_) {
    if (r.str() != info->inputs[i].name) throw RuntimeError("checkpoint: params in another order");
    r.bytes(params_[i].data, params_[i].size * sizeof(T));
    if (r.pod<std::uint32_t>() != moments_[i].size()) throw RuntimeError("checkpoint: optimizer state differs");
    for (Aligned<T>& m : moments_[i]) r.bytes(m.data, m.size * sizeof(T));
    check_finite_param(i);
  }
  steps = st;
  seen = sn;
  updates = up;
  // The state a fit resumes from is a good state: if the resumed fit diverges before it keeps
  // one of its own, this is what it puts back and writes (issue 21: a resumed fit with a huge
  // --lr overwrote the good checkpoint with NaN params).
  keep_current_as_good();
}

template <typename T>
void Engine<T>::check_finite_param(int i) const {
  const Aligned<T>& p = params_[i];
  for (std::size_t k = 0; k < p.size; ++k) {
    if (!std::isfinite(p.data[k])) {
      throw RuntimeError(std::string("checkpoint: param '") + info->inputs[i].name + "' element " +
                         std::to_string(k) + " is " + (std::isnan(p.data[k]) ? "NaN" : "infinite") +
                         ": the checkpoint holds no usable state (refit without --resume)");
    }
  }
}

template std::string Engine<float>::save_state() const;
template std::string Engine<double>::save_state() const;
template void Engine<float>::restore_state(const std::string& bytes, bool params_only);
template void Engine<double>::restore_state(const std::string& bytes, bool params_only);

}  // namespace detail

using detail::Engine;

Trainer::Trainer(const vmc_model_info& info, Arrays data,
                 const std::map<std::string, std::vector<double>>& init, const TrainerOptions& options) {
  if (info.abi_version != VMC_ABI_VERSION) throw RuntimeError("the model was compiled for another ABI version");
  if (info.samples < 1) throw RuntimeError("the model averages " + std::to_string(info.samples) + " samples");
  if (info.real_bytes == 4) impl_ = std::make_unique<Engine<float>>(info, std::move(data), init, options);
  else impl_ = std::make_unique<Engine<double>>(info, std::move(data), init, options);
}
Trainer::~Trainer() = default;

StepResult Trainer::step() { return impl_->step(); }
bool Trainer::any_rank(bool flag) { return impl_->any_rank(flag); }
std::int64_t Trainer::restore_last_good_state() { return impl_->restore_last_good(); }
std::int64_t Trainer::steps_done() const { return impl_->steps; }
std::int64_t Trainer::datapoints_seen() const { return impl_->seen; }
std::int64_t Trainer::datapoints() const { return impl_->datapoints; }
const std::string& Trainer::primary_dim() const { return impl_->primary; }
const std::string& Trainer::datapoints_array() const { return impl_->datapoints_of; }
bool Trainer::params_streamed() const { return impl_->params_streamed; }
std::int64_t Trainer::fused_updates() const { return impl_->fused_updates; }
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
void Trainer::set_param(const std::string& name, const std::vector<double>& values) {
  impl_->set_param(name, values);
}
void Trainer::all_params(std::vector<double>& out) const { impl_->all_params(out); }
void Trainer::set_params(const std::vector<double>& flat) {
  std::size_t at = 0;
  for (const std::string& name : param_names()) {
    std::size_t n = impl_->param(name).size();
    if (flat.size() - at < n) throw RuntimeError("set_params: too few values");
    impl_->set_param(name, std::vector<double>(flat.begin() + static_cast<long>(at), flat.begin() + static_cast<long>(at + n)));
    at += n;
  }
}
void Trainer::set_lr(double lr) { impl_->options.lr = lr; }
double Trainer::bound_and_gradient(std::uint64_t stream, std::uint64_t draw, std::vector<double>& grad) {
  return impl_->bound_and_gradient(stream, draw, grad);
}

double Trainer::evaluate(const Arrays& data, const std::string& kernel, std::uint64_t stream,
                         std::int64_t batch) {
  return impl_->evaluate(data, kernel, stream, batch);
}

Draws Trainer::sample(const std::string& kernel, std::int64_t count, std::int64_t rows,
                      std::uint64_t stream, const Arrays* data,
                      const std::map<std::string, std::vector<double>>& noise, std::int64_t chunk) {
  return impl_->sample(kernel, count, rows, stream, data, noise, chunk);
}

std::string Trainer::save_state() const { return impl_->save_state(); }
void Trainer::restore_state(const std::string& bytes, bool params_only) {
  impl_->restore_state(bytes, params_only);
}

void Trainer::check_data(const Arrays& data) const { impl_->check_data(data); }
GemmProfile Trainer::record_step() { return impl_->record_step(); }
StepPhases Trainer::time_step_phases(int steps) { return impl_->time_step_phases(steps); }
double Trainer::thread_round_trip_ns() { return impl_->thread_round_trip_ns(); }

const char* StepPhases::name(int phase) {
  switch (phase) {
    case Gather: return "data rows and noise";
    case Products: return "products in the kernel";
    case Elementwise: return "elementwise in the kernel";
    case Waiting: return "waiting for other threads";
    case Gradients: return "weight gradients, all rows";
    case Check: return "gradient sums and check";
    case Update: return "optimizer update";
    case Main: return "between phases (caller)";
    default: return "?";
  }
}
std::vector<GradientNoise> Trainer::gradient_noise(std::int64_t draws, std::uint64_t stream) {
  return impl_->gradient_noise(draws, stream);
}
double Trainer::replay_gemms(const GemmProfile& profile, int repeats, Operands operands,
                             std::vector<std::vector<double>>* per_call) {
  return impl_->replay_gemms(profile, repeats, operands != Operands::Reused, operands == Operands::AfterUpdate,
                             per_call);
}

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


std::vector<double> Trainer::whole_data_draws(const std::string& kernel, std::int64_t count,
                                              std::uint64_t stream) {
  return impl_->whole_data_draws(kernel, count, stream);
}

}  // namespace vmc::runtime
