// What a checkpoint records of the run that wrote it besides its state (FitHistory::meta): the
// data each variable came from, a hash of the training data and the dims. Resume, eval and
// sample use it to say what differs when a checkpoint does not fit, instead of only "param
// 'out_W' has another size".
#pragma once

#include <cstdint>
#include <string>

#include "driver/binding.hpp"
#include "driver/outputs.hpp"

namespace vmc::driver {

Json checkpoint_record(const Bound& b, std::uint64_t data_hash);

// "" when the record's data hash matches (or the record has none); otherwise a sentence saying
// that the data differ from those the checkpoint was fitted on, and where each came from.
std::string data_difference(const std::string& record, const Bound& b, std::uint64_t data_hash);

// A clause to append to a message about a checkpoint that does not fit this model: the dims and
// data it was fitted with against this run's ("" without a record).
std::string fitted_on(const std::string& record, const Bound& b);

// The precision ("f32", "f64") the checkpoint at `path` was fitted in, "" when it does not say
// (eval and sample then compile in it: its params can be read in no other).
std::string checkpoint_precision(const std::string& path);

}  // namespace vmc::driver
