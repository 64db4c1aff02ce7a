// Fused bias + LeakyReLU + gain, compiled once per ISA (see cpu/isa.h). Forward reads the input
// once and writes the output once; backward reads grad_output and output and writes grad_input.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {
constexpr int64_t kGrain = 1 << 15;
}

void fused_leaky_relu_kernel(const at::Tensor& input, const at::Tensor* bias,
                             const BiasLayout& layout, double negative_slope, double gain,
                             at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "pygan_fused_leaky_relu_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t slope = static_cast<opmath_t>(negative_slope);
    const opmath_t g = static_cast<opmath_t>(gain);
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    scalar_t* y = out.data_ptr<scalar_t>();
    const int64_t n = input.numel();
    const auto act = [&](auto v) {
      using T = decltype(v);
      return math::leaky_relu(v, T(slope), T(g));
    };

    if (bias == nullptr) {
      at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { map_unary(x, y, b, e, act); });
      return;
    }
    const scalar_t* bptr = bias->const_data_ptr<scalar_t>();
    const int64_t C = layout.channels;
    if (layout.channels_last) {
      // Rows of C channels: add the bias vector to each row.
      const int64_t rows = C == 0 ? 0 : n / C;
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1));
      at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          map_binary(x + r * C, bptr, y + r * C, 0, C, [&](auto v, auto bv) { return act(v + bv); });
        }
      });
      return;
    }
    // Planes of `inner` elements that share one channel.
    const int64_t inner = layout.inner;
    const int64_t planes = inner == 0 ? 0 : n / inner;
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
    at::parallel_for(0, planes, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const opmath_t bv = static_cast<opmath_t>(bptr[p % C]);
        map_unary(x + p * inner, y + p * inner, 0, inner, [&](auto v) {
          using T = decltype(v);
          return act(v + T(bv));
        });
      }
    });
  });
}

void fused_leaky_relu_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output,
                                      double negative_slope, double gain, at::Tensor& grad_input) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, output.scalar_type(),
                                  "pygan_fused_leaky_relu_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t slope = static_cast<opmath_t>(negative_slope);
    const opmath_t g = static_cast<opmath_t>(gain);
    const scalar_t* go = grad_output.const_data_ptr<scalar_t>();
    const scalar_t* y = output.const_data_ptr<scalar_t>();
    scalar_t* gi = grad_input.data_ptr<scalar_t>();
    at::parallel_for(0, output.numel(), kGrain, [&](int64_t b, int64_t e) {
      map_binary(go, y, gi, b, e, [&](auto gv, auto yv) {
        using T = decltype(gv);
        return gv * math::leaky_relu_grad_from_output(yv, T(slope), T(g));
      });
    });
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
