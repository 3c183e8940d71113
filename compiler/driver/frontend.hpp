// The command line's way into the one compile pipeline (pipeline/pipeline.hpp): the model
// options every command takes (ModelArgs) become the pipeline's request, and every diagnostic is
// rendered to stderr, so all commands report the same diagnostics for the same model.
#pragma once

#include "pipeline/pipeline.hpp"

namespace vmc::driver {

using FrontEnd = pipeline::Compilation;
using pipeline::Stage;

struct ModelArgs;
// --precision f32|f64 as the code generator's.
codegen::Precision precision_of(const ModelArgs& args);
// Loads args.model_path and compiles it up to `stage` with the command line's model options
// (a malformed --set is reported as such); renders every diagnostic to stderr. True on success.
bool compile_model(FrontEnd& fe, const ModelArgs& args, Stage stage);

}  // namespace vmc::driver
