// amphora.Model: any ONNX model or package, run on named numpy arrays.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <utility>

#include "python/arrays.hpp"
#include "python/bindings.hpp"

namespace amphora::python {

Options load_options(int threads, const std::string& backend) {
  if (threads < 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "threads " + std::to_string(threads) + ": give 0 (all cores) or a positive count");
  }
  Options options;
  options.threads = threads;
  options.backend = parse_backend(backend);
  return options;
}

namespace {

using namespace nb::literals;

// A dimension as Python sees it: its size, its symbol ("frames"), or None when unknown.
nb::object dim_value(const DimInfo& dim) {
  if (dim.size >= 0) return nb::int_(dim.size);
  if (!dim.symbol.empty()) return nb::str(dim.symbol.c_str());
  return nb::none();
}

// An array as the engine takes it. Arrays keep their dtype (the engine refuses a wrong one,
// naming it); lists and other array-likes become arrays of the input's declared dtype.
AnyArray as_array(const Model& model, const std::string& name, nb::handle value) {
  AnyArray array;
  if (nb::try_cast(value, array)) return array;
  nb::object dtype = nb::none();
  for (const TensorInfo& input : model.inputs()) {
    if (input.name == name) dtype = nb::str(dtype_name(input.dtype));
  }
  return nb::cast<AnyArray>(
      nb::module_::import_("numpy").attr("ascontiguousarray")(value, "dtype"_a = dtype));
}

nb::dict run(const Model& model, const nb::dict& inputs) {
  std::map<std::string, Tensor> tensors;
  for (auto [name, value] : inputs) {
    const std::string key = nb::cast<std::string>(name);
    tensors.emplace(key, to_tensor(as_array(model, key, value), "input '" + key + "'"));
  }
  std::map<std::string, Tensor> outputs;
  {
    nb::gil_scoped_release release;
    outputs = model.run(tensors);
  }
  nb::dict result;
  for (auto& [name, tensor] : outputs) result[name.c_str()] = to_numpy(std::move(tensor));
  return result;
}

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<TensorInfo>(m, "TensorInfo", "A declared model input or output.")
      .def_ro("name", &TensorInfo::name)
      .def_prop_ro("dtype", [](const TensorInfo& info) { return dtype_name(info.dtype); })
      .def_prop_ro(
          "shape",
          [](const TensorInfo& info) {
            nb::list dims;
            for (const DimInfo& dim : info.dims) dims.append(dim_value(dim));
            return info.rank_known ? nb::object(dims) : nb::none();
          },
          nb::sig("def shape(self) -> list[int | str | None] | None"),
          "Sizes and symbols per axis (None: unknown); None when the rank is unknown.")
      .def("__repr__", &TensorInfo::to_string);

  nb::class_<Model>(m, "Model",
                    "A loaded model (an .onnx file or a package directory); run() takes and "
                    "returns numpy arrays by name. Runs on one Model take turns.")
      .def(
          "__init__",
          [](Model* self, const std::filesystem::path& path, int threads,
             const std::string& backend) {
            const Options options = load_options(threads, backend);
            nb::gil_scoped_release release;
            new (self) Model(Model::load(path.string(), options));
          },
          nb::arg("path"), nb::kw_only(), nb::arg("threads") = 0,
          nb::arg("backend") = "native",
          "threads: intra-op threads (0: all cores); backend: \"native\" or \"torchscript\".")
      .def_prop_ro("inputs", &Model::inputs)
      .def_prop_ro("outputs", &Model::outputs)
      .def_prop_ro("metadata", &Model::metadata)
      .def_prop_ro("opset", &Model::opset)
      .def_prop_ro("backend", [](const Model& model) { return backend_name(model.backend()); })
      .def("run", &run, nb::arg("inputs"),
           nb::sig("def run(self, inputs: dict[str, numpy.typing.ArrayLike]) -> "
                   "dict[str, numpy.typing.NDArray]"),
           "Runs the model on every input by name; returns every output by name.");
}

}  // namespace amphora::python
