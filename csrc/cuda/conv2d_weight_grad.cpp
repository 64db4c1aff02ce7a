// CUDA conv2d_weight_grad: cuDNN's backward-weights convolution through ATen, after the same
// argument checks as the CPU kernel (the CPU kernel exists because oneDNN's AVX2 one is slow).
#include <ATen/ATen.h>

#include <vector>

#include "../checks.h"
#include "ops.h"

namespace pygan::cuda {

at::Tensor conv2d_weight_grad(const at::Tensor& input, const at::Tensor& grad_output, at::IntArrayRef kernel_size,
                              at::IntArrayRef stride, at::IntArrayRef padding) {
  check_conv2d_weight_grad_args(input, grad_output, kernel_size, stride, padding, "pygan.conv2d_weight_grad");
  // Only the weight's shape is read when just the weight gradient is asked for.
  const at::Tensor weight_shape = at::empty({grad_output.size(1), input.size(1), kernel_size[0], kernel_size[1]},
                                            input.options().memory_format(input.suggest_memory_format()));
  return std::get<1>(at::convolution_backward(grad_output, input, weight_shape, std::nullopt, stride, padding,
                                              {1, 1}, /*transposed=*/false, {0, 0}, /*groups=*/1,
                                              {false, true, false}));
}

}  // namespace pygan::cuda
