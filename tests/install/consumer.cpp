// Uses the C++ API as an application would, from the installed headers and library only:
// errors, tensors, the mel settings and, given a one-input ONNX model, loading and running it.
#include <amphora/amphora.hpp>
#include <amphora/vocoder.hpp>
#include <cstdio>
#include <map>
#include <string>

int main(int argc, char** argv) {
  try {
    amphora::Model::load_from_bytes("not an ONNX model", {}, "bytes");
    std::fprintf(stderr, "garbage bytes loaded as a model\n");
    return 1;
  } catch (const amphora::Error& e) {
    std::printf("refused garbage: %s (%s)\n", e.what(), amphora::to_string(e.code()));
  }

  amphora::audio::MelConfig mel;
  mel.validate();
  std::printf("mel settings: %s\n", mel.describe().c_str());

  if (argc < 2) return 0;
  amphora::Model model = amphora::Model::load(argv[1], {.threads = 1});
  if (model.inputs().size() != 1 || model.outputs().empty()) {
    std::fprintf(stderr, "%s: expected a one-input model\n", argv[1]);
    return 1;
  }
  const amphora::TensorInfo& input = model.inputs()[0];
  amphora::Shape shape;
  for (const amphora::DimInfo& dim : input.dims) shape.push_back(dim.size >= 0 ? dim.size : 1);
  const amphora::Tensor x(input.dtype, shape);
  const std::map<std::string, amphora::Tensor> outputs = model.run({{input.name, x}});
  const amphora::Tensor& y = outputs.at(model.outputs()[0].name);
  std::printf("ran %s: %s -> %s\n", argv[1], amphora::shape_str(x.shape()).c_str(),
              amphora::shape_str(y.shape()).c_str());
  return 0;
}
