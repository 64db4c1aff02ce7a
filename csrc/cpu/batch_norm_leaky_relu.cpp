// CPU registrations of the fused BatchNorm + LeakyReLU ops.
#include <torch/library.h>

#include "../op_setup.h"
#include "isa.h"

namespace pygan::cpu {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu(
    const at::Tensor& input, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double negative_slope) {
  auto s = setup_batch_norm_leaky_relu(input, weight, bias, eps, negative_slope);
  s.mean = empty_bn_statistic(input);
  s.invstd = empty_bn_statistic(input);
  PYGAN_CPU_CALL(batch_norm_leaky_relu_kernel, s.input, s.layout, s.weight, s.bias, eps,
                 negative_slope, s.out, s.mean, s.invstd);
  return {s.out, s.mean, s.invstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu_backward(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& mean,
    const at::Tensor& invstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double negative_slope) {
  auto s = setup_batch_norm_leaky_relu_backward(grad_out, input, mean, invstd, weight, bias, eps,
                                                negative_slope);
  PYGAN_CPU_CALL(batch_norm_leaky_relu_backward_kernel, s.grad_out, s.input, s.layout, s.mean,
                 s.invstd, s.weight, s.bias, negative_slope, s.grad_input, s.grad_weight,
                 s.grad_bias);
  return finish_batch_norm_leaky_relu_backward(s);
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("batch_norm_leaky_relu", &batch_norm_leaky_relu);
  m.impl("batch_norm_leaky_relu_backward", &batch_norm_leaky_relu_backward);
}

}  // namespace pygan::cpu
