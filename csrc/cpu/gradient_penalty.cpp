// CPU registrations of the gradient-norm penalty: checks, layout and allocation
// (objective_setup.h), then the kernel of the best ISA this CPU supports.
#include <torch/library.h>

#include "../objective_setup.h"
#include "isa.h"
#include "kernels.h"

namespace pygan::cpu {
namespace {

std::tuple<at::Tensor, at::Tensor> gradient_penalty(const at::Tensor& grad, double center,
                                                    c10::string_view reduction) {
  auto s = setup_gradient_penalty(grad, center, reduction);
  PYGAN_CPU_CALL(gradient_penalty_kernel, s.grad, s.samples, s.per_sample, center, s.reduction, s.penalty,
                 s.norms);
  return {s.penalty, s.norms};
}

at::Tensor gradient_penalty_backward(const at::Tensor& grad_penalty, const at::Tensor& grad,
                                     const at::Tensor& norms, double center, c10::string_view reduction) {
  auto s = setup_gradient_penalty_backward(grad_penalty, grad, norms, center, reduction);
  PYGAN_CPU_CALL(gradient_penalty_backward_kernel, s.grad_penalty, s.grad, s.norms, s.samples, s.per_sample,
                 center, s.reduction, s.grad_input);
  return s.grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("gradient_penalty", &gradient_penalty);
  m.impl("gradient_penalty_backward", &gradient_penalty_backward);
}

}  // namespace pygan::cpu
