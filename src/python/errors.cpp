#include "python/errors.hpp"

#include <Python.h>
#include <nanobind/stl/string.h>

#include <array>
#include <exception>
#include <string>

#include "amphora/error.hpp"

namespace amphora::python {
namespace nb = nanobind;

namespace {

struct ErrorClass {
  ErrorCode code;
  const char* name;
  PyObject* also;  // a built-in exception it is a kind of, or nullptr
  const char* doc;
};

// Indexed by ErrorCode. The classes live as long as the interpreter (the module holds them).
std::array<PyObject*, 6> classes{};

void raise(const Error& error) {
  PyObject* type = classes[static_cast<size_t>(error.code())];
  nb::object exception = nb::steal(PyObject_CallOneArg(type, nb::str(error.what()).ptr()));
  if (!exception.is_valid()) return;  // the call set its own Python error
  exception.attr("code") = to_string(error.code());
  PyErr_SetObject(type, exception.ptr());
}

}  // namespace

void bind_errors(nb::module_& module) {
  // Named after the module as imported (amphora._amphora; _amphora when stubgen imports it), so
  // that the stubs describe them; the package re-exports them as amphora.Error and so on.
  const std::string prefix = nb::cast<std::string>(module.attr("__name__")) + ".";
  PyObject* base = PyErr_NewExceptionWithDoc(
      (prefix + "Error").c_str(),
      "What amphora raises: the message names the file, node, op, input or shape at fault; "
      "`code` is the library's error code (\"invalid argument\", \"i/o error\", ...).",
      PyExc_RuntimeError, nullptr);
  if (!base) throw nb::python_error();
  module.attr("Error") = nb::steal(base);
  const ErrorClass table[] = {
      {ErrorCode::kInvalidArgument, "InvalidArgumentError", PyExc_ValueError,
       "Bad input: a wrong name, dtype, rank, shape or option."},
      {ErrorCode::kInvalidModel, "InvalidModelError", nullptr,
       "The model file or package is corrupt or inconsistent."},
      {ErrorCode::kUnsupported, "UnsupportedError", PyExc_NotImplementedError,
       "Valid, but not implemented by amphora (an op, attribute or dtype)."},
      {ErrorCode::kIo, "IoError", nullptr, "A file is missing, unreadable or unwritable."},
      {ErrorCode::kOutOfRange, "OutOfRangeError", PyExc_ValueError,
       "An absurd size or an index out of bounds."},
      {ErrorCode::kInternal, "InternalError", nullptr, "A bug in amphora."},
  };
  for (const ErrorClass& entry : table) {
    nb::object bases = entry.also ? nb::make_tuple(nb::handle(base), nb::handle(entry.also))
                                  : nb::make_tuple(nb::handle(base));
    const std::string qualified = prefix + entry.name;
    PyObject* type =
        PyErr_NewExceptionWithDoc(qualified.c_str(), entry.doc, bases.ptr(), nullptr);
    if (!type) throw nb::python_error();
    classes[static_cast<size_t>(entry.code)] = type;
    module.attr(entry.name) = nb::borrow(type);  // `classes` keeps the creation reference
  }
  nb::register_exception_translator([](const std::exception_ptr& pointer, void*) {
    try {
      std::rethrow_exception(pointer);
    } catch (const Error& error) {
      raise(error);
    }
  });
}

}  // namespace amphora::python
