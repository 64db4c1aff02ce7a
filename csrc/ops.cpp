// The pygan operator library (torch.ops.pygan.*) and the Python module pygan._C that loads it.
#include <Python.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "cpu/isa.h"

TORCH_LIBRARY(pygan, m) {
  // Fake (meta) kernels live in Python; torch imports this module when it needs them.
  m.set_python_module("pygan.ops._fake");
  m.def(
      "discriminator_loss(Tensor real_logits, Tensor fake_logits, float real_label=1.0, "
      "str reduction=\"mean\") -> (Tensor loss, Tensor d_real, Tensor d_fake)");
  m.def(
      "discriminator_loss_backward(Tensor grad_loss, Tensor real_logits, Tensor fake_logits, "
      "float real_label, str reduction) -> (Tensor grad_real, Tensor grad_fake)");
  m.def(
      "generator_loss(Tensor fake_logits, bool saturating=False, str reduction=\"mean\") "
      "-> (Tensor loss, Tensor d_fake)");
  m.def(
      "generator_loss_backward(Tensor grad_loss, Tensor fake_logits, bool saturating, "
      "str reduction) -> Tensor");
  // The objectives after 2014 on raw scores, kind 'hinge', 'least-squares', 'wasserstein' or
  // 'relativistic' (pairs; the G objective of 'relativistic' is this op with real and fake swapped).
  m.def(
      "discriminator_objective(Tensor real_logits, Tensor fake_logits, str kind, float real_target, "
      "float fake_target, str reduction=\"mean\") -> (Tensor loss, Tensor d_real, Tensor d_fake)");
  m.def(
      "discriminator_objective_backward(Tensor grad_loss, Tensor real_logits, Tensor fake_logits, "
      "str kind, float real_target, float fake_target, str reduction) -> (Tensor grad_real, Tensor grad_fake)");
  m.def(
      "generator_objective(Tensor fake_logits, str kind, float target, str reduction=\"mean\") "
      "-> (Tensor loss, Tensor d_fake)");
  m.def(
      "generator_objective_backward(Tensor grad_loss, Tensor fake_logits, str kind, float target, "
      "str reduction) -> Tensor");
  // mean_i (||grad_i|| - center)^2 over dim 0, and the per-sample norms (float32, or float64 for
  // float64 input) that its backward reuses.
  m.def("gradient_penalty(Tensor grad, float center=0.0, str reduction=\"mean\") -> (Tensor penalty, Tensor norms)");
  m.def(
      "gradient_penalty_backward(Tensor grad_penalty, Tensor grad, Tensor norms, float center, "
      "str reduction) -> Tensor");
  // DiffAugment's color, translation and cutout of each image (N, C, H, W) in one map, from
  // per-sample parameters: color (N, 3) brightness offset, saturation and contrast factors;
  // geometry (N, 6) integers dy, dx (out(y, x) = in(y + dy, x + dx), 0 outside) and the cut box
  // [y0, y1) x [x0, x1). The backward is the map's adjoint (it is linear but for the brightness).
  m.def("diff_augment(Tensor x, Tensor color, Tensor geometry) -> Tensor");
  m.def("diff_augment_backward(Tensor grad_output, Tensor color, Tensor geometry) -> Tensor");
  m.def(
      "fused_leaky_relu(Tensor input, Tensor? bias=None, float negative_slope=0.2, "
      "float gain=1.0) -> Tensor");
  m.def(
      "fused_leaky_relu_(Tensor(a!) input, Tensor? bias=None, float negative_slope=0.2, "
      "float gain=1.0) -> ()");
  m.def(
      "fused_leaky_relu_backward(Tensor grad_output, Tensor output, float negative_slope, "
      "float gain) -> Tensor");
  // The backward when the bias needs a gradient: grad_input and its per-channel sum (dim 1),
  // the bias gradient, in one pass over grad_output and output.
  m.def(
      "fused_leaky_relu_backward_bias(Tensor grad_output, Tensor output, float negative_slope, "
      "float gain) -> (Tensor grad_input, Tensor grad_bias)");
  // BatchNorm with batch statistics + LeakyReLU; mean and invstd (float32, or float64 for
  // float64 input) are returned for the running statistics and the backward.
  // The weight gradient of conv2d(input, weight, stride, padding) given its grad_output, shaped like
  // weight (C_out, C, kh, kw) and laid out channels-last; for conv_transpose2d(x, weight) it is this
  // op of (grad_output, x). CPU: im2col + GEMM (csrc/cpu/conv2d_weight_grad.cpp); CUDA: cuDNN's.
  m.def(
      "conv2d_weight_grad(Tensor input, Tensor grad_output, int[2] kernel_size, int[2] stride, "
      "int[2] padding) -> Tensor");
  m.def(
      "batch_norm_leaky_relu(Tensor input, Tensor? weight, Tensor? bias, float eps=1e-05, "
      "float negative_slope=0.2) -> (Tensor out, Tensor mean, Tensor invstd)");
  m.def(
      "batch_norm_leaky_relu_backward(Tensor grad_out, Tensor input, Tensor mean, Tensor invstd, "
      "Tensor? weight, Tensor? bias, float eps, float negative_slope) "
      "-> (Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
}

namespace {

PyObject* cpu_isa(PyObject*, PyObject*) {
  return PyUnicode_FromString(pygan::cpu::isa_name(pygan::cpu::active_isa()).c_str());
}

PyObject* isa_tuple(const std::vector<pygan::cpu::Isa>& isas) {
  PyObject* out = PyTuple_New(static_cast<Py_ssize_t>(isas.size()));
  for (size_t i = 0; i < isas.size(); ++i) {
    PyTuple_SET_ITEM(out, i, PyUnicode_FromString(pygan::cpu::isa_name(isas[i]).c_str()));
  }
  return out;
}

PyObject* string_tuple(const std::vector<std::string>& items) {
  PyObject* out = PyTuple_New(static_cast<Py_ssize_t>(items.size()));
  for (size_t i = 0; i < items.size(); ++i) PyTuple_SET_ITEM(out, i, PyUnicode_FromString(items[i].c_str()));
  return out;
}

PyObject* cpu_isa_support(PyObject*, PyObject*) {
  namespace cpu = pygan::cpu;
  const auto& features = cpu::cpu_features();
  return Py_BuildValue("{s:N,s:N,s:s,s:s,s:O}", "cpu_features", string_tuple(features), "supported",
                       isa_tuple(cpu::supported_isas(features)), "requested",
                       cpu::isa_name(cpu::requested_isa()).c_str(), "active",
                       cpu::isa_name(cpu::active_isa()).c_str(), "clamped",
                       cpu::active_isa() != cpu::requested_isa() ? Py_True : Py_False);
}

// clamp_isa(requested, features): the ISA pygan runs when ATen asks for `requested` on a CPU with
// `features` (the rule active_isa() applies to the real CPU, open to tests with any feature set).
PyObject* clamp_isa(PyObject*, PyObject* args) {
  const char* requested = nullptr;
  PyObject* features = nullptr;
  if (!PyArg_ParseTuple(args, "sO", &requested, &features)) return nullptr;
  const auto isa = pygan::cpu::parse_isa(requested);
  if (!isa) {
    PyErr_Format(PyExc_ValueError, "clamp_isa: requested must be 'default', 'avx2' or 'avx512', got '%s'",
                 requested);
    return nullptr;
  }
  PyObject* seq = PySequence_Fast(features, "clamp_isa: features must be a sequence of str");
  if (seq == nullptr) return nullptr;
  std::vector<std::string> names;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    const char* name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
    if (name == nullptr) {
      Py_DECREF(seq);
      return nullptr;
    }
    names.emplace_back(name);
  }
  Py_DECREF(seq);
  return PyUnicode_FromString(pygan::cpu::isa_name(pygan::cpu::clamp_isa(*isa, names)).c_str());
}

PyObject* compiled_isas(PyObject*, PyObject*) {
#if defined(PYGAN_HAVE_AVX512) && defined(PYGAN_HAVE_AVX2)
  return Py_BuildValue("(sss)", "default", "avx2", "avx512");
#else
  return Py_BuildValue("(s)", "default");
#endif
}

PyObject* compiled_with_cuda(PyObject*, PyObject*) {
#ifdef PYGAN_WITH_CUDA
  Py_RETURN_TRUE;
#else
  Py_RETURN_FALSE;
#endif
}

PyMethodDef methods[] = {
    {"cpu_isa", cpu_isa, METH_NOARGS, "The instruction set whose CPU kernels run here."},
    {"compiled_isas", compiled_isas, METH_NOARGS, "Instruction sets the CPU kernels were built for."},
    {"cpu_isa_support", cpu_isa_support, METH_NOARGS,
     "This CPU's features, the ISAs it can run, ATen's choice, the active ISA, and whether the "
     "choice was clamped to what the CPU supports."},
    {"clamp_isa", clamp_isa, METH_VARARGS,
     "clamp_isa(requested, features): the ISA run for ATen's `requested` on a CPU with `features`."},
    {"compiled_with_cuda", compiled_with_cuda, METH_NOARGS, "Whether CUDA kernels are built in."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "pygan._C", "pygan's fused kernels.", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__C() { return PyModule_Create(&module); }
