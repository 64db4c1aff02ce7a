// CUDA kernels of the fused BatchNorm + LeakyReLU ops: batch statistics from ATen
// (at::batch_norm_stats), then thin launches over the formulas in pygan_math.h.
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../op_setup.h"
#include "../pygan_math.h"
#include "launch.cuh"
#include "ops.h"

namespace pygan::cuda {
namespace {

// Offset of the m-th value of channel c.
__device__ __forceinline__ int64_t channel_offset(const cpu::ChannelLayout& l, int64_t c, int64_t m) {
  return l.rows ? m * l.channels + c : ((m / l.inner) * l.channels + c) * l.inner + m % l.inner;
}

__device__ __forceinline__ int64_t channel_of(const cpu::ChannelLayout& l, int64_t i) {
  return l.rows ? i % l.channels : (i / l.inner) % l.channels;
}

template <typename scalar_t, typename opmath_t>
__global__ void apply_kernel(const scalar_t* __restrict__ x, cpu::ChannelLayout l,
                             const opmath_t* __restrict__ mean, const opmath_t* __restrict__ invstd,
                             const opmath_t* __restrict__ weight, const opmath_t* __restrict__ bias,
                             int64_t n, opmath_t slope, scalar_t* __restrict__ y) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t c = channel_of(l, i);
    const opmath_t scale = math::bn_scale(invstd[c], weight[c]);
    y[i] = static_cast<scalar_t>(math::bn_leaky_relu(static_cast<opmath_t>(x[i]), mean[c], scale, bias[c], slope));
  }
}

// One block per channel: sums[0][c] = sum(dz), sums[1][c] = sum(dz * (x - mean)).
template <typename scalar_t, typename opmath_t>
__global__ void grad_sums_kernel(const scalar_t* __restrict__ dy, const scalar_t* __restrict__ x,
                                 cpu::ChannelLayout l, const opmath_t* __restrict__ mean,
                                 const opmath_t* __restrict__ invstd, const opmath_t* __restrict__ weight,
                                 const opmath_t* __restrict__ bias, opmath_t slope,
                                 opmath_t* __restrict__ sums) {
  __shared__ opmath_t shared[kThreads];
  const int64_t c = blockIdx.x;
  const opmath_t scale = math::bn_scale(invstd[c], weight[c]);
  opmath_t s_dz = 0, s_dz_xc = 0;
  for (int64_t m = threadIdx.x; m < l.outer * l.inner; m += blockDim.x) {
    const int64_t i = channel_offset(l, c, m);
    const opmath_t xv = static_cast<opmath_t>(x[i]);
    const opmath_t dz = math::bn_leaky_relu_dz(static_cast<opmath_t>(dy[i]), xv, mean[c], scale, bias[c], slope);
    s_dz += dz;
    s_dz_xc += dz * (xv - mean[c]);
  }
  s_dz = block_sum(s_dz, shared);
  if (threadIdx.x == 0) sums[c] = s_dz;
  __syncthreads();
  s_dz_xc = block_sum(s_dz_xc, shared);
  if (threadIdx.x == 0) sums[l.channels + c] = s_dz_xc;
}

template <typename scalar_t, typename opmath_t>
__global__ void grad_input_kernel(const scalar_t* __restrict__ dy, const scalar_t* __restrict__ x,
                                  cpu::ChannelLayout l, const opmath_t* __restrict__ mean,
                                  const opmath_t* __restrict__ invstd, const opmath_t* __restrict__ weight,
                                  const opmath_t* __restrict__ bias, const opmath_t* __restrict__ sums,
                                  int64_t n, opmath_t slope, scalar_t* __restrict__ dx) {
  const opmath_t count = static_cast<opmath_t>(l.outer * l.inner);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t c = channel_of(l, i);
    const opmath_t scale = math::bn_scale(invstd[c], weight[c]);
    const auto k = math::bn_grad_coeffs(invstd[c], scale, sums[c], sums[l.channels + c], count);
    const opmath_t xv = static_cast<opmath_t>(x[i]);
    const opmath_t dz = math::bn_leaky_relu_dz(static_cast<opmath_t>(dy[i]), xv, mean[c], scale, bias[c], slope);
    dx[i] = static_cast<scalar_t>(math::bn_grad_input(dz, xv, mean[c], k));
  }
}

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu(
    const at::Tensor& input, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double negative_slope) {
  auto s = setup_batch_norm_leaky_relu(input, weight, bias, eps, negative_slope);
  const c10::cuda::CUDAGuard guard(input.device());
  std::tie(s.mean, s.invstd) = aten::batch_norm_stats(s.input, eps);  // float32 (float64) statistics
  const int64_t n = s.input.numel();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.input.scalar_type(),
                                  "pygan_batch_norm_leaky_relu_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    apply_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        s.input.const_data_ptr<scalar_t>(), s.layout, s.mean.const_data_ptr<opmath_t>(),
        s.invstd.const_data_ptr<opmath_t>(), s.weight.const_data_ptr<opmath_t>(),
        s.bias.const_data_ptr<opmath_t>(), n, static_cast<opmath_t>(negative_slope),
        s.out.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {s.out, s.mean, s.invstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu_backward(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& mean,
    const at::Tensor& invstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double negative_slope) {
  auto s = setup_batch_norm_leaky_relu_backward(grad_out, input, mean, invstd, weight, bias, eps,
                                                negative_slope);
  const c10::cuda::CUDAGuard guard(input.device());
  const int64_t C = s.layout.channels, n = s.input.numel();
  at::Tensor sums = aten::empty({2, C}, s.mean.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.input.scalar_type(),
                                  "pygan_batch_norm_leaky_relu_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto stream = c10::cuda::getCurrentCUDAStream();
    const opmath_t slope = static_cast<opmath_t>(negative_slope);
    grad_sums_kernel<<<static_cast<unsigned>(C), kThreads, 0, stream>>>(
        s.grad_out.const_data_ptr<scalar_t>(), s.input.const_data_ptr<scalar_t>(), s.layout,
        s.mean.const_data_ptr<opmath_t>(), s.invstd.const_data_ptr<opmath_t>(),
        s.weight.const_data_ptr<opmath_t>(), s.bias.const_data_ptr<opmath_t>(), slope,
        sums.data_ptr<opmath_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    grad_input_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
        s.grad_out.const_data_ptr<scalar_t>(), s.input.const_data_ptr<scalar_t>(), s.layout,
        s.mean.const_data_ptr<opmath_t>(), s.invstd.const_data_ptr<opmath_t>(),
        s.weight.const_data_ptr<opmath_t>(), s.bias.const_data_ptr<opmath_t>(),
        sums.const_data_ptr<opmath_t>(), n, slope, s.grad_input.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  // grad_weight = sum(dz * xhat) = S2 * invstd; grad_bias = sum(dz) = S1.
  aten::mul_out(s.grad_weight, sums[1], s.invstd);
  s.grad_bias.copy_(sums[0]);
  return finish_batch_norm_leaky_relu_backward(s);
}

}  // namespace pygan::cuda
