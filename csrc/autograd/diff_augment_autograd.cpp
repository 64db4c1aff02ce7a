// Autograd for DiffAugment, in C++. The map is affine in the image: out = A x + b (b: brightness,
// where the image is kept). Its gradient is the adjoint A^T, our backward kernel; the adjoint's
// own gradient is A, the forward kernel with the brightness set to 0. So every order of
// derivative runs on the fused kernels. color and geometry are random draws: no gradient.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "op_calls.h"

namespace pygan::autograd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

at::Tensor call_below_autograd(bool adjoint, const at::Tensor& x, const at::Tensor& color,
                               const at::Tensor& geometry) {
  at::AutoDispatchBelowADInplaceOrView guard;
  if (!adjoint) {
    PYGAN_OP_HANDLE(op, "pygan::diff_augment", calls::AugmentSig);
    return op.call(x, color, geometry);
  }
  PYGAN_OP_HANDLE(op, "pygan::diff_augment_backward", calls::AugmentSig);
  return op.call(x, color, geometry);
}

// The linear part of the map: the same color factors with no brightness offset.
at::Tensor without_brightness(const at::Tensor& color) {
  return at::cat({at::zeros_like(color.narrow(1, 0, 1)), color.narrow(1, 1, 2)}, 1);
}

class DiffAugmentAdjoint;

class DiffAugment : public Function<DiffAugment> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& color,
                               const at::Tensor& geometry) {
    ctx->save_for_backward({color, geometry});
    return {call_below_autograd(/*adjoint=*/false, x, color, geometry)};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};

class DiffAugmentAdjoint : public Function<DiffAugmentAdjoint> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& color,
                               const at::Tensor& geometry) {
    ctx->save_for_backward({color, geometry});
    return {call_below_autograd(/*adjoint=*/true, grad_output, color, geometry)};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    return {DiffAugment::apply(grads[0], without_brightness(saved[0]), saved[1])[0], at::Tensor(), at::Tensor()};
  }
};

variable_list DiffAugment::backward(AutogradContext* ctx, variable_list grads) {
  if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
  const auto saved = ctx->get_saved_variables();
  return {DiffAugmentAdjoint::apply(grads[0], saved[0], saved[1])[0], at::Tensor(), at::Tensor()};
}

at::Tensor diff_augment(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry) {
  return DiffAugment::apply(x, color, geometry)[0];
}

at::Tensor diff_augment_backward(const at::Tensor& grad_output, const at::Tensor& color, const at::Tensor& geometry) {
  return DiffAugmentAdjoint::apply(grad_output, color, geometry)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("diff_augment", &diff_augment);
  m.impl("diff_augment_backward", &diff_augment_backward);
}

}  // namespace pygan::autograd
