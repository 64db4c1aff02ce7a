// CUDA kernels of the fused LeakyReLU ops: thin launches over pygan_math.h.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <tuple>
#include <vector>

#include "../op_setup.h"
#include "../pygan_math.h"
#include "launch.cuh"
#include "ops.h"

namespace pygan::cuda {
namespace {

template <typename scalar_t>
__global__ void leaky_relu_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ bias,
                                  cpu::BiasLayout layout, int64_t n, at::opmath_type<scalar_t> slope,
                                  at::opmath_type<scalar_t> gain, scalar_t* __restrict__ y) {
  using opmath_t = at::opmath_type<scalar_t>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    opmath_t v = static_cast<opmath_t>(x[i]);
    if (bias != nullptr) {
      const int64_t c = layout.channels_last ? i % layout.channels : (i / layout.inner) % layout.channels;
      v += static_cast<opmath_t>(bias[c]);
    }
    y[i] = static_cast<scalar_t>(math::leaky_relu(v, slope, gain));
  }
}

template <typename scalar_t>
__global__ void leaky_relu_backward_kernel(const scalar_t* __restrict__ grad_output,
                                           const scalar_t* __restrict__ output, int64_t n,
                                           at::opmath_type<scalar_t> slope,
                                           at::opmath_type<scalar_t> gain,
                                           scalar_t* __restrict__ grad_input) {
  using opmath_t = at::opmath_type<scalar_t>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    grad_input[i] = static_cast<scalar_t>(
        static_cast<opmath_t>(grad_output[i]) *
        math::leaky_relu_grad_from_output(static_cast<opmath_t>(output[i]), slope, gain));
  }
}

struct RunCuda {
  double negative_slope, gain;
  void operator()(const LeakyReLUSetup& s, at::Tensor& out) const {
    const int64_t n = s.input.numel();
    if (n == 0) return;
    const c10::cuda::CUDAGuard guard(s.input.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.input.scalar_type(),
                                    "pygan_fused_leaky_relu_cuda", [&] {
      using opmath_t = at::opmath_type<scalar_t>;
      leaky_relu_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
          s.input.const_data_ptr<scalar_t>(),
          s.has_bias ? s.bias.const_data_ptr<scalar_t>() : nullptr, s.layout, n,
          static_cast<opmath_t>(negative_slope), static_cast<opmath_t>(gain),
          out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
};

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
at::Tensor fused_leaky_relu(const at::Tensor& input, const std::optional<at::Tensor>& bias,
                            double negative_slope, double gain) {
  return fused_leaky_relu_forward(input, bias, negative_slope, gain, RunCuda{negative_slope, gain});
}

void fused_leaky_relu_(at::Tensor& input, const std::optional<at::Tensor>& bias,
                       double negative_slope, double gain) {
  fused_leaky_relu_forward_(input, bias, negative_slope, gain, RunCuda{negative_slope, gain});
}

namespace {

// grad_input = grad_output * mask(output), all three with the same dense strides.
void launch_backward(const at::Tensor& grad_output, const at::Tensor& output, double negative_slope,
                     double gain, at::Tensor& grad_input) {
  const int64_t n = output.numel();
  if (n == 0) return;
  const c10::cuda::CUDAGuard guard(output.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, output.scalar_type(),
                                  "pygan_fused_leaky_relu_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    leaky_relu_backward_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        grad_output.const_data_ptr<scalar_t>(), output.const_data_ptr<scalar_t>(), n,
        static_cast<opmath_t>(negative_slope), static_cast<opmath_t>(gain),
        grad_input.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace

at::Tensor fused_leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& output,
                                     double negative_slope, double gain) {
  auto s = setup_fused_leaky_relu_backward(grad_output, output, negative_slope, gain);
  launch_backward(s.grad_output, s.output, negative_slope, gain, s.grad_input);
  return s.grad_input;
}

// The elementwise backward, then ATen's sum for the bias gradient (it accumulates float16 and
// bfloat16 in float32).
std::tuple<at::Tensor, at::Tensor> fused_leaky_relu_backward_bias(const at::Tensor& grad_output,
                                                                  const at::Tensor& output,
                                                                  double negative_slope, double gain) {
  auto s = setup_fused_leaky_relu_backward_bias(grad_output, output, negative_slope, gain);
  launch_backward(s.grad_output, s.output, negative_slope, gain, s.grad_input);
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < s.grad_input.dim(); ++d) dims.push_back(d);
  aten::sum_out(s.grad_bias, s.grad_input, dims);
  return {s.grad_input, s.grad_bias};
}

}  // namespace pygan::cuda
