// CUDA kernels of the gradient-norm penalty (R1, R2, WGAN-GP): thin launches over the
// formulas in pygan_math.h. `grad` comes sample-major (objective_setup.h): sample s is the block
// [s * per_sample, (s + 1) * per_sample) in memory. Nothing here syncs with the host.
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cmath>

#include "../objective_setup.h"
#include "../pygan_math.h"
#include "launch.cuh"
#include "ops.h"

namespace pygan::cuda {
namespace {

// One block per sample, striding over samples: norms[s] = ||g_s|| and terms[s] = its penalty
// term, in the math type (float32, float64 for float64 input: the norms' dtype).
template <typename scalar_t, typename T>
__global__ void norms_kernel(const scalar_t* __restrict__ g, int64_t samples, int64_t per_sample, T center,
                             T* __restrict__ norms, T* __restrict__ terms) {
  __shared__ T shared[kThreads];
  for (int64_t s = blockIdx.x; s < samples; s += gridDim.x) {
    const scalar_t* x = g + s * per_sample;
    T acc = 0;
    for (int64_t j = threadIdx.x; j < per_sample; j += blockDim.x) {
      const T v = static_cast<T>(x[j]);
      acc += v * v;
    }
    const T squared = block_sum(acc, shared);
    if (threadIdx.x == 0) {
      const T norm = std::sqrt(squared);
      norms[s] = norm;
      terms[s] = math::penalty_term(squared, norm, center);
    }
    __syncthreads();  // every thread has read shared[0] before the next sample overwrites it
  }
}

// grad_input[i] = grad_penalty * scale * penalty_coeff(norms[s], center) * g[i], s = i / per_sample.
// grad_penalty is read on the device, rounded to the math type once from double as on the CPU.
template <typename scalar_t, typename T>
__global__ void penalty_grad_kernel(const scalar_t* __restrict__ grad_penalty, const scalar_t* __restrict__ g,
                                    const T* __restrict__ norms, int64_t per_sample, int64_t n, double scale,
                                    T center, scalar_t* __restrict__ out) {
  const T outer = static_cast<T>(static_cast<double>(grad_penalty[0]) * scale);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const T k = outer * math::penalty_coeff(norms[i / per_sample], center);
    out[i] = static_cast<scalar_t>(static_cast<T>(g[i]) * k);
  }
}

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
std::tuple<at::Tensor, at::Tensor> gradient_penalty(const at::Tensor& grad, double center,
                                                    c10::string_view reduction) {
  auto s = setup_gradient_penalty(grad, center, reduction);
  const c10::cuda::CUDAGuard guard(grad.device());
  at::Tensor terms = aten::empty({s.samples}, s.norms.options());
  if (s.samples > 0) {  // no samples: no launch, the sum of no terms is 0
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.grad.scalar_type(),
                                    "pygan_gradient_penalty_cuda", [&] {
      using T = at::opmath_type<scalar_t>;
      const int blocks = static_cast<int>(std::min<int64_t>(s.samples, kMaxBlocks));
      norms_kernel<<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
          s.grad.const_data_ptr<scalar_t>(), s.samples, s.per_sample, static_cast<T>(center),
          s.norms.data_ptr<T>(), terms.data_ptr<T>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  // The terms summed by ATen (deterministic); a mean of no samples is NaN, as on the CPU.
  const at::Tensor total = terms.sum();
  s.penalty.copy_(s.reduction == Reduction::kMean ? total.div(static_cast<double>(s.samples)) : total);
  return {s.penalty, s.norms};
}

at::Tensor gradient_penalty_backward(const at::Tensor& grad_penalty, const at::Tensor& grad,
                                     const at::Tensor& norms, double center, c10::string_view reduction) {
  auto s = setup_gradient_penalty_backward(grad_penalty, grad, norms, center, reduction);
  const c10::cuda::CUDAGuard guard(grad.device());
  const int64_t n = s.samples * s.per_sample;
  if (n == 0) return s.grad_input;  // nothing to write, and no launch of 0 blocks
  const double scale = s.reduction == Reduction::kMean ? 1.0 / static_cast<double>(s.samples) : 1.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.grad.scalar_type(),
                                  "pygan_gradient_penalty_backward_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    penalty_grad_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        s.grad_penalty.const_data_ptr<scalar_t>(), s.grad.const_data_ptr<scalar_t>(),
        s.norms.const_data_ptr<T>(), s.per_sample, n, scale, static_cast<T>(center),
        s.grad_input.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return s.grad_input;
}

}  // namespace pygan::cuda
