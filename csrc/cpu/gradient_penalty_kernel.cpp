// The gradient-norm penalty's kernels, compiled once per ISA (see cpu/isa.h). The caller gives a
// sample-major tensor (sample i is the block [i * per_sample, (i + 1) * per_sample) in memory).
// Forward: one pass sums each sample's squares; backward: one pass scales each sample's values.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {

constexpr int64_t kBlock = 1 << 14;         // values summed in the math type before a double add
constexpr int64_t kElementwiseGrain = 1 << 15;

// sum x^2 over n values: vector blocks in the math type, blocks added in double. One sample is
// summed by one thread, in memory order, so the result does not depend on the thread count.
template <typename scalar_t>
double sum_of_squares(const scalar_t* x, int64_t n) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  double total = 0.0;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    V acc0(opmath_t(0)), acc1(opmath_t(0));  // two chains hide the fused multiply-add's latency
    opmath_t tail = 0;
    bool odd = false;
    visit_unary(x, begin, std::min(n, begin + kBlock), [&](auto v) {
      if constexpr (std::is_same_v<decltype(v), V>) {
        if (odd) acc1 = at::vec::fmadd(v, v, acc1);
        else acc0 = at::vec::fmadd(v, v, acc0);
        odd = !odd;
      } else {
        tail += v * v;
      }
    });
    total += horizontal_sum(acc0 + acc1) + static_cast<double>(tail);
  }
  return total;
}

}  // namespace

void gradient_penalty_kernel(const at::Tensor& grad, int64_t samples, int64_t per_sample, double center,
                             Reduction reduction, at::Tensor& penalty, at::Tensor& norms) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "pygan_gradient_penalty_cpu", [&] {
    using norm_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    norm_t* out_norms = norms.data_ptr<norm_t>();
    std::vector<double> terms(samples);
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, per_sample));
    at::parallel_for(0, samples, grain, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        const double squared = sum_of_squares(g + s * per_sample, per_sample);
        const double norm = std::sqrt(squared);
        out_norms[s] = static_cast<norm_t>(norm);
        terms[s] = math::penalty_term(squared, norm, center);
      }
    });
    double total = 0.0;
    for (const double t : terms) total += t;  // in sample order
    if (reduction == Reduction::kMean) total /= static_cast<double>(samples);
    *penalty.data_ptr<scalar_t>() = static_cast<scalar_t>(total);
  });
}

void gradient_penalty_backward_kernel(const at::Tensor& grad_penalty, const at::Tensor& grad,
                                      const at::Tensor& norms, int64_t samples, int64_t per_sample,
                                      double center, Reduction reduction, at::Tensor& grad_input) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                  "pygan_gradient_penalty_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    using norm_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const norm_t* n = norms.const_data_ptr<norm_t>();
    const double outer = static_cast<double>(*grad_penalty.const_data_ptr<scalar_t>()) *
                         (reduction == Reduction::kMean ? 1.0 / static_cast<double>(samples) : 1.0);
    std::vector<opmath_t> coeff(samples);
    for (int64_t s = 0; s < samples; ++s) {
      coeff[s] = static_cast<opmath_t>(outer * math::penalty_coeff(static_cast<double>(n[s]), center));
    }
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    scalar_t* out = grad_input.data_ptr<scalar_t>();
    at::parallel_for(0, samples * per_sample, kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end;) {
        const int64_t s = i / per_sample;
        const int64_t stop = std::min(end, (s + 1) * per_sample);
        const opmath_t k = coeff[s];
        map_unary(g + i, out + i, 0, stop - i, [k](auto v) {
          using T = decltype(v);
          return v * T(k);
        });
        i = stop;
      }
    });
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
