// CPU registrations of the fused LeakyReLU ops.
#include <torch/library.h>

#include "../op_setup.h"
#include "isa.h"

namespace pygan::cpu {
namespace {

struct RunCpu {
  double negative_slope, gain;
  void operator()(const LeakyReLUSetup& s, at::Tensor& out) const {
    PYGAN_CPU_CALL(fused_leaky_relu_kernel, s.input, s.has_bias ? &s.bias : nullptr, s.layout,
                   negative_slope, gain, out);
  }
};

at::Tensor fused_leaky_relu(const at::Tensor& input, const std::optional<at::Tensor>& bias,
                            double negative_slope, double gain) {
  return fused_leaky_relu_forward(input, bias, negative_slope, gain, RunCpu{negative_slope, gain});
}

void fused_leaky_relu_(at::Tensor& input, const std::optional<at::Tensor>& bias,
                       double negative_slope, double gain) {
  fused_leaky_relu_forward_(input, bias, negative_slope, gain, RunCpu{negative_slope, gain});
}

at::Tensor fused_leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& output,
                                     double negative_slope, double gain) {
  auto s = setup_fused_leaky_relu_backward(grad_output, output, negative_slope, gain);
  PYGAN_CPU_CALL(fused_leaky_relu_backward_kernel, s.grad_output, s.output, negative_slope, gain,
                 s.grad_input);
  return s.grad_input;
}

std::tuple<at::Tensor, at::Tensor> fused_leaky_relu_backward_bias(const at::Tensor& grad_output,
                                                                  const at::Tensor& output,
                                                                  double negative_slope, double gain) {
  auto s = setup_fused_leaky_relu_backward_bias(grad_output, output, negative_slope, gain);
  PYGAN_CPU_CALL(fused_leaky_relu_backward_bias_kernel, s.grad_output, s.output, s.layout,
                 negative_slope, gain, s.grad_input, s.grad_bias);
  return {s.grad_input, s.grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) {
  m.impl("fused_leaky_relu", &fused_leaky_relu);
  m.impl("fused_leaky_relu_", &fused_leaky_relu_);
  m.impl("fused_leaky_relu_backward", &fused_leaky_relu_backward);
  m.impl("fused_leaky_relu_backward_bias", &fused_leaky_relu_backward_bias);
}

}  // namespace pygan::cpu
