// CUDA kernels of DiffAugment: thin launches over the formulas in pygan_math.h. A first kernel
// gives each sample its coefficients (one block per sample sums the image, or for the adjoint
// the gradient where the image was kept); a second maps every pixel, all its channels in one
// thread. Nothing here syncs with the host.
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>

#include "../augment_setup.h"
#include "../pygan_math.h"
#include "launch.cuh"
#include "ops.h"

namespace pygan::cuda {
namespace {

// Sample s's geometry: the map's, or its adjoint's where `adjoint`.
__device__ math::AugmentGeometry sample_geometry(const long long* geometry, int64_t s, const ImageLayout& l,
                                                 bool adjoint) {
  const math::AugmentGeometry g = math::augment_geometry(geometry + 6 * s, l.height, l.width);
  return adjoint ? math::augment_adjoint_geometry(g, l.height, l.width) : g;
}

template <typename scalar_t, typename T>
__global__ void coeffs_kernel(const scalar_t* __restrict__ x, const T* __restrict__ color,
                              const long long* __restrict__ geometry, ImageLayout l, bool adjoint,
                              math::AugmentCoeffs<T>* __restrict__ coeffs) {
  __shared__ T shared[kThreads];
  const int64_t pixels = l.height * l.width;
  for (int64_t s = blockIdx.x; s < l.samples; s += gridDim.x) {
    const scalar_t* img = x + s * l.sample;
    const math::AugmentGeometry g = sample_geometry(geometry, s, l, adjoint);
    T acc = 0;
    for (int64_t p = threadIdx.x; p < pixels; p += blockDim.x) {
      const int64_t y = p / l.width, xx = p % l.width;
      if (adjoint && !math::augment_keeps(g, y, xx, l.height, l.width)) continue;
      const int64_t sy = adjoint ? y + g.dy : y, sx = adjoint ? xx + g.dx : xx;
      const scalar_t* v = img + sy * l.row + sx * l.pixel;
      for (int64_t c = 0; c < l.channels; ++c) acc += static_cast<T>(v[c * l.channel]);
    }
    const T total = block_sum(acc, shared);
    if (threadIdx.x == 0) {
      const T* c = color + 3 * s;
      const T channels = static_cast<T>(l.channels), count = static_cast<T>(l.sample);
      coeffs[s] = adjoint ? math::augment_adjoint_coeffs(c[1], c[2], channels, count, total)
                          : math::augment_coeffs(c[0], c[1], c[2], channels, total / count);
    }
    __syncthreads();  // every thread has read shared[0] before the next sample overwrites it
  }
}

template <typename scalar_t, typename T>
__global__ void map_kernel(const scalar_t* __restrict__ x, const long long* __restrict__ geometry,
                           const math::AugmentCoeffs<T>* __restrict__ coeffs, ImageLayout l, bool adjoint,
                           scalar_t* __restrict__ out) {
  const int64_t pixels = l.height * l.width, n = l.samples * pixels;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t s = i / pixels, p = i % pixels, y = p / l.width, xx = p % l.width;
    const math::AugmentGeometry g = sample_geometry(geometry, s, l, adjoint);
    const math::AugmentCoeffs<T> k = coeffs[s];
    scalar_t* o = out + s * l.sample + y * l.row + xx * l.pixel;
    if (!math::augment_keeps(g, y, xx, l.height, l.width)) {
      for (int64_t c = 0; c < l.channels; ++c) o[c * l.channel] = static_cast<scalar_t>(k.fill);
      continue;
    }
    const scalar_t* v = x + s * l.sample + (y + g.dy) * l.row + (xx + g.dx) * l.pixel;
    T sum = 0;
    for (int64_t c = 0; c < l.channels; ++c) sum += static_cast<T>(v[c * l.channel]);
    for (int64_t c = 0; c < l.channels; ++c) {
      o[c * l.channel] = static_cast<scalar_t>(
          math::augment_value(static_cast<T>(v[c * l.channel]), sum, k.scale, k.mix, k.offset));
    }
  }
}

at::Tensor launch(const DiffAugmentSetup& s, bool adjoint) {
  const c10::cuda::CUDAGuard guard(s.input.device());
  const ImageLayout& l = s.layout;
  if (s.input.numel() == 0) return s.out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.input.scalar_type(), "pygan_diff_augment_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    // Per-sample coefficients as raw bytes: 4 values of the math type each.
    at::Tensor coeffs = aten::empty({l.samples, 4}, s.color.options());
    auto* k = reinterpret_cast<math::AugmentCoeffs<T>*>(coeffs.data_ptr<T>());
    const auto* geo = reinterpret_cast<const long long*>(s.geometry.const_data_ptr<int64_t>());
    const auto stream = c10::cuda::getCurrentCUDAStream();
    const int blocks = static_cast<int>(std::min<int64_t>(l.samples, kMaxBlocks));
    coeffs_kernel<<<blocks, kThreads, 0, stream>>>(s.input.const_data_ptr<scalar_t>(), s.color.const_data_ptr<T>(),
                                                   geo, l, adjoint, k);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    map_kernel<<<blocks_for(l.samples * l.height * l.width), kThreads, 0, stream>>>(
        s.input.const_data_ptr<scalar_t>(), geo, k, l, adjoint, s.out.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return s.out;
}

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
at::Tensor diff_augment(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry) {
  return launch(setup_diff_augment(x, color, geometry, "pygan.diff_augment", "x"), /*adjoint=*/false);
}

at::Tensor diff_augment_backward(const at::Tensor& grad_output, const at::Tensor& color, const at::Tensor& geometry) {
  return launch(setup_diff_augment(grad_output, color, geometry, "pygan.diff_augment_backward", "grad_output"),
                /*adjoint=*/true);
}

}  // namespace pygan::cuda
