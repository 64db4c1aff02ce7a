// CUDA kernels of the objectives after 2014 (hinge, least squares, Wasserstein,
// relativistic): thin launches over the formulas in pygan_math.h. Each block sums its terms and
// scores; ATen sums the per-block partials (deterministic, no atomics) and the outputs are
// combined on the device, without a sync.
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "../objective_setup.h"
#include "../pygan_math.h"
#include "launch.cuh"
#include "ops.h"

namespace pygan::cuda {
namespace {

// One side of a separable objective: its term (the score itself logged) and the term's gradient.
// The kind is a launch argument, uniform over the grid: one kernel per dtype serves every kind.
template <typename T>
struct Side {
  ObjectiveKind kind;
  bool real;
  T t;
  __device__ math::TermAndProb<T> term(T l) const {
    switch (kind) {
      case ObjectiveKind::kHinge:
        return {real ? math::hinge_real(l, t) : math::hinge_fake(l, t), l};
      case ObjectiveKind::kLeastSquares:
        return {math::squared_error(l, t), l};
      default:  // Wasserstein: D minimises D(G(z)) - D(x)
        return {real ? -l : l, l};
    }
  }
  __device__ T grad(T l) const {
    switch (kind) {
      case ObjectiveKind::kHinge:
        return real ? math::hinge_real_grad(l, t) : math::hinge_fake_grad(l, t);
      case ObjectiveKind::kLeastSquares:
        return math::squared_error_grad(l, t);
      default:  // Wasserstein: the constants -1 and 1, whatever the score
        return real ? T(-1) : T(1);
    }
  }
};

// G's hinge and Wasserstein objectives are both -D(G(z)), the Wasserstein real side's term.
ObjectiveKind generator_side(ObjectiveKind kind) {
  return kind == ObjectiveKind::kLeastSquares ? kind : ObjectiveKind::kWasserstein;
}

template <typename T, int K>
struct Values { T v[K]; };

// (term, score) of x[i].
template <typename scalar_t, typename T>
struct SideAt {
  const scalar_t* x;
  Side<T> side;
  __device__ Values<T, 2> operator()(int64_t i) const {
    const auto tp = side.term(static_cast<T>(x[i]));
    return {{tp.term, tp.prob}};
  }
};

// (softplus(f - r), r, f) of the pair i.
template <typename scalar_t, typename T>
struct PairAt {
  const scalar_t* r;
  const scalar_t* f;
  __device__ Values<T, 3> operator()(int64_t i) const {
    const T a = static_cast<T>(r[i]);
    const T b = static_cast<T>(f[i]);
    return {{math::relativistic_term(a, b), a, b}};
  }
};

// partial[block][k] = sum of fn(i).v[k] over the block's grid-stride share of [0, n).
template <int K, typename T, typename Fn>
__global__ void sums_kernel(int64_t n, Fn fn, T* __restrict__ partial) {
  __shared__ T shared[kThreads];
  T acc[K] = {};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const Values<T, K> v = fn(i);
#pragma unroll
    for (int k = 0; k < K; ++k) acc[k] += v.v[k];
  }
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const T total = block_sum(acc[k], shared);
    if (threadIdx.x == 0) partial[K * blockIdx.x + k] = total;
    __syncthreads();  // every thread has read shared[0] before the next sum overwrites it
  }
}

// The K sums over [0, n), a K-element tensor in the math dtype; zeros without a launch for n == 0.
template <int K, typename T, typename Fn>
at::Tensor sums(int64_t n, const Fn& fn, const at::TensorOptions& opts) {
  if (n == 0) return aten::zeros({K}, opts);
  const int blocks = blocks_for(n);
  at::Tensor partial = aten::empty({blocks, K}, opts);
  sums_kernel<K><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(n, fn, partial.data_ptr<T>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return partial.sum(0);
}

// A mean of no values is NaN (0 / 0), as on the CPU.
at::Tensor reduce(const at::Tensor& sum, Reduction reduction, int64_t n) {
  return reduction == Reduction::kMean ? sum.div(static_cast<double>(n)) : sum;
}

// out[i] = d term / d x[i] * g0.
template <typename scalar_t, typename T>
struct SideGradAt {
  const scalar_t* x;
  scalar_t* out;
  Side<T> side;
  __device__ void operator()(int64_t i, T g0) const {
    out[i] = static_cast<scalar_t>(side.grad(static_cast<T>(x[i])) * g0);
  }
};

// grad_fake = g0 sigmoid(f - r) and grad_real = -grad_fake, in one pass.
template <typename scalar_t, typename T>
struct PairGradAt {
  const scalar_t* r;
  const scalar_t* f;
  scalar_t* grad_real;
  scalar_t* grad_fake;
  __device__ void operator()(int64_t i, T g0) const {
    const T d = math::relativistic_grad_fake(static_cast<T>(r[i]), static_cast<T>(f[i])) * g0;
    grad_fake[i] = static_cast<scalar_t>(d);
    grad_real[i] = static_cast<scalar_t>(-d);
  }
};

// fn(i, g0) over [0, n); g0 = grad_loss * scale, read on the device (no host sync) and rounded
// to the math type once, from double, as the CPU kernels do.
template <typename scalar_t, typename Fn>
__global__ void grad_kernel(const scalar_t* __restrict__ g, double scale, int64_t n, Fn fn) {
  using T = at::opmath_type<scalar_t>;
  const T g0 = static_cast<T>(static_cast<double>(g[0]) * scale);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    fn(i, g0);
  }
}

template <typename scalar_t, typename Fn>
void launch_grad(const at::Tensor& g, Reduction reduction, int64_t n, const Fn& fn) {
  if (n == 0) return;
  const double scale = reduction == Reduction::kMean ? 1.0 / static_cast<double>(n) : 1.0;
  grad_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      g.const_data_ptr<scalar_t>(), scale, n, fn);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
at::TensorOptions math_options(const at::Tensor& x) {
  return x.options().dtype(c10::CppTypeToScalarType<T>::value);
}

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_objective(
    const at::Tensor& real, const at::Tensor& fake, c10::string_view kind, double real_target,
    double fake_target, c10::string_view reduction) {
  auto s = setup_discriminator_objective(real, fake, kind, real_target, fake_target, reduction);
  const c10::cuda::CUDAGuard guard(real.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.real.scalar_type(),
                                  "pygan_discriminator_objective_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto opts = math_options<T>(s.real);
    const scalar_t* r = s.real.const_data_ptr<scalar_t>();
    const scalar_t* f = s.fake.const_data_ptr<scalar_t>();
    const int64_t nr = s.real.numel();
    const int64_t nf = s.fake.numel();
    if (s.kind == ObjectiveKind::kRelativistic) {
      const at::Tensor sum = sums<3, T>(nr, PairAt<scalar_t, T>{r, f}, opts);
      s.loss.copy_(reduce(sum[0], s.reduction, nr));
      s.d_real.copy_(sum[1].div(static_cast<double>(nr)));
      s.d_fake.copy_(sum[2].div(static_cast<double>(nf)));
      return;
    }
    const Side<T> real_side{s.kind, true, static_cast<T>(real_target)};
    const Side<T> fake_side{s.kind, false, static_cast<T>(fake_target)};
    const at::Tensor sr = sums<2, T>(nr, SideAt<scalar_t, T>{r, real_side}, opts);
    const at::Tensor sf = sums<2, T>(nf, SideAt<scalar_t, T>{f, fake_side}, opts);
    s.loss.copy_(reduce(sr[0], s.reduction, nr).add(reduce(sf[0], s.reduction, nf)));
    s.d_real.copy_(sr[1].div(static_cast<double>(nr)));
    s.d_fake.copy_(sf[1].div(static_cast<double>(nf)));
  });
  return {s.loss, s.d_real, s.d_fake};
}

std::tuple<at::Tensor, at::Tensor> discriminator_objective_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, c10::string_view kind,
    double real_target, double fake_target, c10::string_view reduction) {
  auto s = setup_discriminator_objective_backward(grad, real, fake, kind, real_target, fake_target, reduction);
  const c10::cuda::CUDAGuard guard(real.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.real.scalar_type(),
                                  "pygan_discriminator_objective_backward_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const scalar_t* r = s.real.const_data_ptr<scalar_t>();
    const scalar_t* f = s.fake.const_data_ptr<scalar_t>();
    scalar_t* grad_real = s.grad_real.data_ptr<scalar_t>();
    scalar_t* grad_fake = s.grad_fake.data_ptr<scalar_t>();
    if (s.kind == ObjectiveKind::kRelativistic) {
      launch_grad<scalar_t>(s.grad, s.reduction, s.real.numel(),
                            PairGradAt<scalar_t, T>{r, f, grad_real, grad_fake});
      return;
    }
    const Side<T> real_side{s.kind, true, static_cast<T>(real_target)};
    const Side<T> fake_side{s.kind, false, static_cast<T>(fake_target)};
    launch_grad<scalar_t>(s.grad, s.reduction, s.real.numel(), SideGradAt<scalar_t, T>{r, grad_real, real_side});
    launch_grad<scalar_t>(s.grad, s.reduction, s.fake.numel(), SideGradAt<scalar_t, T>{f, grad_fake, fake_side});
  });
  return {s.grad_real, s.grad_fake};
}

std::tuple<at::Tensor, at::Tensor> generator_objective(const at::Tensor& fake, c10::string_view kind,
                                                       double target, c10::string_view reduction) {
  auto s = setup_generator_objective(fake, kind, target, reduction);
  const c10::cuda::CUDAGuard guard(fake.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.fake.scalar_type(),
                                  "pygan_generator_objective_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const int64_t n = s.fake.numel();
    const Side<T> side{generator_side(s.kind), true, static_cast<T>(target)};
    const at::Tensor sum =
        sums<2, T>(n, SideAt<scalar_t, T>{s.fake.const_data_ptr<scalar_t>(), side}, math_options<T>(s.fake));
    s.loss.copy_(reduce(sum[0], s.reduction, n));
    s.d_fake.copy_(sum[1].div(static_cast<double>(n)));
  });
  return {s.loss, s.d_fake};
}

at::Tensor generator_objective_backward(const at::Tensor& grad, const at::Tensor& fake, c10::string_view kind,
                                        double target, c10::string_view reduction) {
  auto s = setup_generator_objective_backward(grad, fake, kind, target, reduction);
  const c10::cuda::CUDAGuard guard(fake.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.fake.scalar_type(),
                                  "pygan_generator_objective_backward_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const Side<T> side{generator_side(s.kind), true, static_cast<T>(target)};
    launch_grad<scalar_t>(s.grad, s.reduction, s.fake.numel(),
                          SideGradAt<scalar_t, T>{s.fake.const_data_ptr<scalar_t>(),
                                                  s.grad_fake.data_ptr<scalar_t>(), side});
  });
  return s.grad_fake;
}

}  // namespace pygan::cuda
