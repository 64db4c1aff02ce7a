// CUDA kernels of the GAN loss ops: thin launches over the formulas in pygan_math.h.
// Each block sums its loss terms and D outputs; the per-block partials are summed by ATen
// (deterministic, no atomics) and combined into the outputs on the device, without a sync.
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

template <typename T>
struct RealTerm {
  T one_minus_t;
  bool smoothed;
  __device__ math::TermAndProb<T> operator()(T l) const { return math::bce_real(l, one_minus_t, smoothed); }
};
template <typename T>
struct FakeTerm {
  __device__ math::TermAndProb<T> operator()(T l) const { return math::bce_fake(l); }
};
template <typename T>
struct GeneratorTerm {
  bool saturating;
  __device__ math::TermAndProb<T> operator()(T l) const { return math::generator_term(l, saturating); }
};
template <typename T>
struct RealGrad {
  T one_minus_t;
  __device__ T operator()(T l) const { return math::bce_real_grad(l, one_minus_t); }
};
template <typename T>
struct FakeGrad {
  __device__ T operator()(T l) const { return math::bce_fake_grad(l); }
};
template <typename T>
struct GeneratorGrad {
  bool saturating;
  __device__ T operator()(T l) const { return math::generator_grad(l, saturating); }
};

enum Store { kNothing = 0, kWrite = 1, kAdd = 2 };

// partial[block] = (sum of terms, sum of D outputs) over the block's grid-stride share of x.
template <int store, typename scalar_t, typename Fn>
__global__ void terms_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out, int64_t n,
                             Fn fn, at::opmath_type<scalar_t>* __restrict__ partial) {
  using opmath_t = at::opmath_type<scalar_t>;
  __shared__ opmath_t shared[kThreads];
  opmath_t term = 0;
  opmath_t prob = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const auto tp = fn(static_cast<opmath_t>(x[i]));
    term += tp.term;
    prob += tp.prob;
    if (store == kWrite) out[i] = static_cast<scalar_t>(tp.term);
    if (store == kAdd) out[i] = static_cast<scalar_t>(static_cast<opmath_t>(out[i]) + tp.term);
  }
  const opmath_t block_term = block_sum(term, shared);
  __syncthreads();
  const opmath_t block_prob = block_sum(prob, shared);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = block_term;
    partial[2 * blockIdx.x + 1] = block_prob;
  }
}

// Returns a 2-element tensor (sum of terms, sum of D outputs) in the math dtype.
template <int store, typename scalar_t, typename Fn>
at::Tensor sum_terms(const at::Tensor& x, scalar_t* out, const Fn& fn) {
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t n = x.numel();
  const auto opts = x.options().dtype(c10::CppTypeToScalarType<opmath_t>::value);
  if (n == 0) return aten::zeros({2}, opts);
  const int blocks = blocks_for(n);
  at::Tensor partial = aten::empty({blocks, 2}, opts);
  terms_kernel<store><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      x.const_data_ptr<scalar_t>(), out, n, fn, partial.data_ptr<opmath_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return partial.sum(0);
}

at::Tensor reduce(const at::Tensor& sum, Reduction reduction, int64_t n) {
  return reduction == Reduction::kMean ? sum.div(static_cast<double>(n)) : sum;
}

template <typename scalar_t, typename GradFn>
__global__ void grad_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ g,
                            bool elementwise_g, at::opmath_type<scalar_t> scale,
                            scalar_t* __restrict__ out, int64_t n, GradFn dfn) {
  using opmath_t = at::opmath_type<scalar_t>;
  const opmath_t g0 = elementwise_g ? opmath_t(0) : static_cast<opmath_t>(g[0]) * scale;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const opmath_t d = dfn(static_cast<opmath_t>(x[i]));
    out[i] = static_cast<scalar_t>(elementwise_g ? static_cast<opmath_t>(g[i]) * d * scale : d * g0);
  }
}

template <typename scalar_t, typename GradFn>
void launch_grad(const at::Tensor& x, const at::Tensor& g, Reduction reduction, at::Tensor& out,
                 const GradFn& dfn) {
  const int64_t n = x.numel();
  if (n == 0) return;
  using opmath_t = at::opmath_type<scalar_t>;
  const opmath_t scale = reduction == Reduction::kMean ? opmath_t(1) / static_cast<opmath_t>(n) : opmath_t(1);
  grad_kernel<<<blocks_for(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      x.const_data_ptr<scalar_t>(), g.const_data_ptr<scalar_t>(), reduction == Reduction::kNone,
      scale, out.data_ptr<scalar_t>(), n, dfn);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

// The entry points registered in registrations.cpp (declared in ops.h).
std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_loss(const at::Tensor& real,
                                                                  const at::Tensor& fake,
                                                                  double real_label,
                                                                  c10::string_view reduction) {
  auto s = setup_discriminator_loss(real, fake, real_label, reduction);
  const c10::cuda::CUDAGuard guard(real.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_loss_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const RealTerm<opmath_t> real_fn{static_cast<opmath_t>(1.0 - real_label), real_label != 1.0};
    const FakeTerm<opmath_t> fake_fn{};
    at::Tensor sr, sf;
    if (s.reduction == Reduction::kNone) {
      scalar_t* out = s.loss.data_ptr<scalar_t>();
      sr = sum_terms<kWrite, scalar_t>(s.real, out, real_fn);
      sf = sum_terms<kAdd, scalar_t>(s.fake, out, fake_fn);
    } else {
      sr = sum_terms<kNothing, scalar_t>(s.real, nullptr, real_fn);
      sf = sum_terms<kNothing, scalar_t>(s.fake, nullptr, fake_fn);
      s.loss.copy_(reduce(sr[0], s.reduction, s.real.numel()).add(reduce(sf[0], s.reduction, s.fake.numel())));
    }
    s.d_real.copy_(sr[1].div(static_cast<double>(s.real.numel())));
    s.d_fake.copy_(sf[1].div(static_cast<double>(s.fake.numel())));
  });
  return {s.loss, s.d_real, s.d_fake};
}

std::tuple<at::Tensor, at::Tensor> discriminator_loss_backward(const at::Tensor& grad,
                                                               const at::Tensor& real,
                                                               const at::Tensor& fake,
                                                               double real_label,
                                                               c10::string_view reduction) {
  auto s = setup_discriminator_loss_backward(grad, real, fake, real_label, reduction);
  const c10::cuda::CUDAGuard guard(real.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_loss_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    launch_grad<scalar_t>(s.real, s.grad, s.reduction, s.grad_real,
                          RealGrad<opmath_t>{static_cast<opmath_t>(1.0 - real_label)});
    launch_grad<scalar_t>(s.fake, s.grad, s.reduction, s.grad_fake, FakeGrad<opmath_t>{});
  });
  return {s.grad_real, s.grad_fake};
}

std::tuple<at::Tensor, at::Tensor> generator_loss(const at::Tensor& fake, bool saturating,
                                                  c10::string_view reduction) {
  auto s = setup_generator_loss(fake, reduction);
  const c10::cuda::CUDAGuard guard(fake.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_loss_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const GeneratorTerm<opmath_t> fn{saturating};
    at::Tensor sums;
    if (s.reduction == Reduction::kNone) {
      sums = sum_terms<kWrite, scalar_t>(s.fake, s.loss.data_ptr<scalar_t>(), fn);
    } else {
      sums = sum_terms<kNothing, scalar_t>(s.fake, nullptr, fn);
      s.loss.copy_(reduce(sums[0], s.reduction, s.fake.numel()));
    }
    s.d_fake.copy_(sums[1].div(static_cast<double>(s.fake.numel())));
  });
  return {s.loss, s.d_fake};
}

at::Tensor generator_loss_backward(const at::Tensor& grad, const at::Tensor& fake, bool saturating,
                                   c10::string_view reduction) {
  auto s = setup_generator_loss_backward(grad, fake, reduction);
  const c10::cuda::CUDAGuard guard(fake.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_loss_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    launch_grad<scalar_t>(s.fake, s.grad, s.reduction, s.grad_fake, GeneratorGrad<opmath_t>{saturating});
  });
  return s.grad_fake;
}

}  // namespace pygan::cuda
