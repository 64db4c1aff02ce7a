// CPU registrations of the GAN loss ops: checks and allocation (op_setup.h), then the kernel of
// the best ISA this CPU supports.
#include <torch/library.h>

#include "../op_setup.h"
#include "isa.h"

namespace pygan::cpu {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_loss(const at::Tensor& real,
                                                                  const at::Tensor& fake,
                                                                  double real_label,
                                                                  c10::string_view reduction) {
  auto s = setup_discriminator_loss(real, fake, real_label, reduction);
  PYGAN_CPU_CALL(discriminator_loss_kernel, s.real, s.fake, real_label, s.reduction, s.loss,
                 s.d_real, s.d_fake);
  return {s.loss, s.d_real, s.d_fake};
}

std::tuple<at::Tensor, at::Tensor> discriminator_loss_backward(const at::Tensor& grad,
                                                               const at::Tensor& real,
                                                               const at::Tensor& fake,
                                                               double real_label,
                                                               c10::string_view reduction) {
  auto s = setup_discriminator_loss_backward(grad, real, fake, real_label, reduction);
  PYGAN_CPU_CALL(discriminator_loss_backward_kernel, s.grad, s.real, s.fake, real_label,
                 s.reduction, s.grad_real, s.grad_fake);
  return {s.grad_real, s.grad_fake};
}

std::tuple<at::Tensor, at::Tensor> generator_loss(const at::Tensor& fake, bool saturating,
                                                  c10::string_view reduction) {
  auto s = setup_generator_loss(fake, reduction);
  PYGAN_CPU_CALL(generator_loss_kernel, s.fake, saturating, s.reduction, s.loss, s.d_fake);
  return {s.loss, s.d_fake};
}

at::Tensor generator_loss_backward(const at::Tensor& grad, const at::Tensor& fake,
                                   bool saturating, c10::string_view reduction) {
  auto s = setup_generator_loss_backward(grad, fake, reduction);
  PYGAN_CPU_CALL(generator_loss_backward_kernel, s.grad, s.fake, saturating, s.reduction,
                 s.grad_fake);
  return s.grad_fake;
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("discriminator_loss", &discriminator_loss);
  m.impl("discriminator_loss_backward", &discriminator_loss_backward);
  m.impl("generator_loss", &generator_loss);
  m.impl("generator_loss_backward", &generator_loss_backward);
}

}  // namespace pygan::cpu
