#include "driver/record.hpp"

#include <cstdio>

#include "vmc/fit.hpp"

namespace vmc::driver {
namespace {

std::string hex(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Json parse(const std::string& record) {
  Json j = Json::parse(record, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : Json();
}

std::string sources(const Json& data) {
  std::string out;
  for (const auto& [name, from] : data.items()) {
    out += (out.empty() ? "" : ", ") + name + " from " + (from.is_string() ? from.get<std::string>() : "?");
  }
  return out.empty() ? "no data" : out;
}

std::string dims_text(const Json& dims) {
  std::string out;
  for (const auto& [name, v] : dims.items()) {
    out += (out.empty() ? "" : ", ") + name + " = " + (v.is_number_integer() ? std::to_string(v.get<long long>()) : "?");
  }
  return out;
}

}  // namespace

Json checkpoint_record(const Bound& b, std::uint64_t data_hash) {
  Json r;
  Json data = Json::object();
  for (const auto& [name, path] : b.files) data[name] = path;
  r["data"] = data;
  r["data_hash"] = hex(data_hash);
  Json dims = Json::object();
  for (const auto& [name, v] : b.fe.model->dim_values()) dims[name] = v;
  r["dims"] = dims;
  r["precision"] = b.fe.compiled->info().real_bytes == 8 ? "f64" : "f32";
  return r;
}

std::string checkpoint_precision(const std::string& path) {
  try {
    Json r = parse(runtime::checkpoint_meta(runtime::read_checkpoint_bytes(path)));
    if (r.contains("precision") && r["precision"].is_string()) return r["precision"].get<std::string>();
  } catch (const runtime::RuntimeError&) {
    // An unreadable checkpoint is reported where it is loaded.
  }
  return "";
}

std::string data_difference(const std::string& record, const Bound& b, std::uint64_t data_hash) {
  Json r = parse(record);
  if (!r.contains("data_hash") || !r["data_hash"].is_string() || r["data_hash"] == hex(data_hash)) return "";
  return "the data differ from those the checkpoint was fitted on (then: " + sources(r.value("data", Json::object())) +
         "; now: " + sources(checkpoint_record(b, data_hash)["data"]) + "): the fit goes on with the data given now";
}

std::string fitted_on(const std::string& record, const Bound& b) {
  Json r = parse(record);
  if (!r.contains("dims")) return "";
  Json now = checkpoint_record(b, 0);
  return " — the checkpoint was fitted with " + dims_text(r["dims"]) + " (" + sources(r.value("data", Json::object())) +
         "); this run has " + dims_text(now["dims"]) + " (" + sources(now["data"]) + ")";
}

}  // namespace vmc::driver
