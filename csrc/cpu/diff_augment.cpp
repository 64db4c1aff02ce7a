// CPU registrations of DiffAugment: checks, layout and allocation (augment_setup.h), then the
// kernel of the best ISA this CPU supports.
#include <torch/library.h>

#include "../augment_setup.h"
#include "isa.h"
#include "kernels.h"

namespace pygan::cpu {
namespace {

at::Tensor diff_augment(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry) {
  auto s = setup_diff_augment(x, color, geometry, "pygan.diff_augment", "x");
  PYGAN_CPU_CALL(diff_augment_kernel, s.input, s.color, s.geometry, s.layout, s.out);
  return s.out;
}

at::Tensor diff_augment_backward(const at::Tensor& grad_output, const at::Tensor& color, const at::Tensor& geometry) {
  auto s = setup_diff_augment(grad_output, color, geometry, "pygan.diff_augment_backward", "grad_output");
  PYGAN_CPU_CALL(diff_augment_backward_kernel, s.input, s.color, s.geometry, s.layout, s.out);
  return s.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("diff_augment", &diff_augment);
  m.impl("diff_augment_backward", &diff_augment_backward);
}

}  // namespace pygan::cpu
