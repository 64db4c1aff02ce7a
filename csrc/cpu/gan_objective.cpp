// CPU registrations of the objectives after 2014: checks and allocation (objective_setup.h), then
// the kernel of the best ISA this CPU supports.
#include <torch/library.h>

#include "../objective_setup.h"
#include "isa.h"
#include "kernels.h"

namespace pygan::cpu {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_objective(
    const at::Tensor& real, const at::Tensor& fake, c10::string_view kind, double real_target,
    double fake_target, c10::string_view reduction) {
  auto s = setup_discriminator_objective(real, fake, kind, real_target, fake_target, reduction);
  PYGAN_CPU_CALL(discriminator_objective_kernel, s.real, s.fake, s.kind, real_target, fake_target,
                 s.reduction, s.loss, s.d_real, s.d_fake);
  return {s.loss, s.d_real, s.d_fake};
}

std::tuple<at::Tensor, at::Tensor> discriminator_objective_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, c10::string_view kind,
    double real_target, double fake_target, c10::string_view reduction) {
  auto s = setup_discriminator_objective_backward(grad, real, fake, kind, real_target, fake_target, reduction);
  PYGAN_CPU_CALL(discriminator_objective_backward_kernel, s.grad, s.real, s.fake, s.kind, real_target,
                 fake_target, s.reduction, s.grad_real, s.grad_fake);
  return {s.grad_real, s.grad_fake};
}

std::tuple<at::Tensor, at::Tensor> generator_objective(const at::Tensor& fake, c10::string_view kind,
                                                       double target, c10::string_view reduction) {
  auto s = setup_generator_objective(fake, kind, target, reduction);
  PYGAN_CPU_CALL(generator_objective_kernel, s.fake, s.kind, target, s.reduction, s.loss, s.d_fake);
  return {s.loss, s.d_fake};
}

at::Tensor generator_objective_backward(const at::Tensor& grad, const at::Tensor& fake, c10::string_view kind,
                                        double target, c10::string_view reduction) {
  auto s = setup_generator_objective_backward(grad, fake, kind, target, reduction);
  PYGAN_CPU_CALL(generator_objective_backward_kernel, s.grad, s.fake, s.kind, target, s.reduction,
                 s.grad_fake);
  return s.grad_fake;
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("discriminator_objective", &discriminator_objective);
  m.impl("discriminator_objective_backward", &discriminator_objective_backward);
  m.impl("generator_objective", &generator_objective);
  m.impl("generator_objective_backward", &generator_objective_backward);
}

}  // namespace pygan::cpu
