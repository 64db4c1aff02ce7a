// Fused bias + LeakyReLU + gain, compiled once per ISA (see cpu/isa.h). Forward reads the input
// once and writes the output once; backward reads grad_output and output and writes grad_input,
// and with a bias sums grad_input per channel in the same pass.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>

#include <algorithm>
#include <array>
#include <vector>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {
constexpr int64_t kGrain = 1 << 15;
constexpr int64_t kSumBlock = 4096;      // values summed in the math type before widening to double
constexpr int64_t kChunkValues = 8192;   // rows layout: values per chunk of rows (about)
constexpr int64_t kMaxChunkRows = 1024;  // rows layout: rows summed in the math type per chunk
constexpr int64_t kSmallPlane = 256;     // planes below this size are summed per channel over samples

// The elementwise formulas as small value types. Hot loops copy them (and the data pointers)
// into locals: at::vec stores may alias anything, so values reached through a lambda's
// by-reference captures would be reloaded after every store.
template <typename opmath_t>
struct Act {
  opmath_t slope, gain, bias;
  template <typename T>
  T operator()(T v) const { return math::leaky_relu(v + T(bias), T(slope), T(gain)); }
};

template <typename opmath_t>
struct GradFromOutput {
  opmath_t slope, gain;
  template <typename T>
  T operator()(T grad_out, T out) const {
    return grad_out * math::leaky_relu_grad_from_output(out, T(slope), T(gain));
  }
};

// out[i] = f(a[i], b[i]) over [0, n), returning the sum of the (unrounded) f values: in the math
// type within blocks of kSumBlock values, each block's lanes reduced in a fixed order and added
// to a double. The order depends only on n, never on the thread that runs it.
template <typename scalar_t, typename F>
double map_binary_sum(const scalar_t* a, const scalar_t* b, scalar_t* out, int64_t n, const F& f) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  double total = 0.0;
  for (int64_t begin = 0; begin < n; begin += kSumBlock) {
    const int64_t end = std::min(n, begin + kSumBlock);
    std::array<V, 2> acc{V(opmath_t(0)), V(opmath_t(0))};  // two chains: add latency, not loads, bound one
    int64_t i = begin;
    for (; i + 2 * L::step <= end; i += 2 * L::step) {
      auto a0 = L::load(a + i);
      auto a1 = L::load(a + i + L::step);
      const auto b0 = L::load(b + i);
      const auto b1 = L::load(b + i + L::step);
      for (int k = 0; k < L::count; ++k) {
        a0[k] = f(a0[k], b0[k]);
        a1[k] = f(a1[k], b1[k]);
        acc[0] = acc[0] + a0[k];
        acc[1] = acc[1] + a1[k];
      }
      L::store(out + i, a0);
      L::store(out + i + L::step, a1);
    }
    if (i + L::step <= end) {
      auto a0 = L::load(a + i);
      const auto b0 = L::load(b + i);
      for (int k = 0; k < L::count; ++k) {
        a0[k] = f(a0[k], b0[k]);
        acc[0] = acc[0] + a0[k];
      }
      L::store(out + i, a0);
      i += L::step;
    }
    if constexpr (L::widened) {
      if (i + V::size() <= end) {
        const V v = f(L::load_half(a + i), L::load_half(b + i));
        L::store_half(out + i, v);
        acc[1] = acc[1] + v;
        i += V::size();
      }
    }
    opmath_t tail = opmath_t(0);
    for (; i < end; ++i) {
      const opmath_t v = f(static_cast<opmath_t>(a[i]), static_cast<opmath_t>(b[i]));
      out[i] = static_cast<scalar_t>(v);
      tail += v;
    }
    const opmath_t lanes = at::vec::vec_reduce_all<opmath_t>(
        [](const V& x, const V& y) { return x + y; }, acc[0] + acc[1]);
    total += static_cast<double>(lanes) + static_cast<double>(tail);
  }
  return total;
}

// grad_bias[c] = sum over p of partial[p * C + c], in order of p (so in a fixed order), in double.
template <typename partial_t, typename scalar_t>
void combine_partials(const std::vector<partial_t>& partial, int64_t parts, int64_t C, scalar_t* grad_bias) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(parts, 1));
  at::parallel_for(0, C, grain, [&](int64_t c0, int64_t c1) {
    std::vector<double> sum(c1 - c0, 0.0);
    for (int64_t p = 0; p < parts; ++p) {
      const partial_t* row = partial.data() + p * C;
      for (int64_t c = c0; c < c1; ++c) sum[c - c0] += static_cast<double>(row[c]);
    }
    for (int64_t c = c0; c < c1; ++c) grad_bias[c] = static_cast<scalar_t>(sum[c - c0]);
  });
}

}  // namespace

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
      at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
        // Constants and pointers as locals captured by value: at::vec stores may alias anything,
        // so values read through references would be reloaded after every store.
        const scalar_t* xs = x;
        scalar_t* ys = y;
        const opmath_t s = slope, gg = g;
        map_unary(xs, ys, b, e, [s, gg](auto v) {
          using T = decltype(v);
          return math::leaky_relu(v, T(s), T(gg));
        });
      });
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
      const scalar_t* xs = x;
      scalar_t* ys = y;
      const int64_t S = inner, channels = C;
      int64_t c = p0 % channels;  // one division per task, not per (possibly 16-value) plane
      for (int64_t p = p0; p < p1; ++p) {
        const Act<opmath_t> f{slope, g, static_cast<opmath_t>(bptr[c])};
        map_unary(xs + p * S, ys + p * S, 0, S, f);
        if (++c == channels) c = 0;
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
      const scalar_t* gos = go;
      const scalar_t* ys = y;
      scalar_t* gis = gi;
      const opmath_t s = slope, gg = g;  // by value: see the forward
      map_binary(gos, ys, gis, b, e, [s, gg](auto gv, auto yv) {
        using T = decltype(gv);
        return gv * math::leaky_relu_grad_from_output(yv, T(s), T(gg));
      });
    });
  });
}

void fused_leaky_relu_backward_bias_kernel(const at::Tensor& grad_output, const at::Tensor& output,
                                           const BiasLayout& layout, double negative_slope, double gain,
                                           at::Tensor& grad_input, at::Tensor& grad_bias) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, output.scalar_type(),
                                  "pygan_fused_leaky_relu_backward_bias_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    using L = Lanes<scalar_t>;
    using V = typename L::V;
    const opmath_t slope = static_cast<opmath_t>(negative_slope);
    const opmath_t g = static_cast<opmath_t>(gain);
    const scalar_t* go = grad_output.const_data_ptr<scalar_t>();
    const scalar_t* y = output.const_data_ptr<scalar_t>();
    scalar_t* gi = grad_input.data_ptr<scalar_t>();
    scalar_t* gb = grad_bias.data_ptr<scalar_t>();
    const int64_t n = output.numel();
    const int64_t C = layout.channels;
    if (n == 0) {
      std::fill(gb, gb + C, scalar_t(0));
      return;
    }
    const GradFromOutput<opmath_t> grad{slope, g};

    if (layout.channels_last) {
      // Rows of C channels in fixed chunks of rows, each summed per channel in the math type by
      // one task; the chunks' sums are combined in chunk order.
      const int64_t rows = n / C;
      const int64_t per_chunk = std::clamp<int64_t>(kChunkValues / C, 1, kMaxChunkRows);
      const int64_t chunks = (rows + per_chunk - 1) / per_chunk;
      std::vector<opmath_t> partial(chunks * C, opmath_t(0));
      const int64_t grain = std::max<int64_t>(1, kGrain / (per_chunk * C));
      at::parallel_for(0, chunks, grain, [&](int64_t k0, int64_t k1) {
        const GradFromOutput<opmath_t> f = grad;
        const scalar_t* gos = go;
        const scalar_t* ys = y;
        scalar_t* gis = gi;
        const int64_t channels = C, per = per_chunk, total = rows;
        for (int64_t k = k0; k < k1; ++k) {
          opmath_t* acc = partial.data() + k * channels;
          for (int64_t r = k * per; r < std::min(total, (k + 1) * per); ++r) {
            const scalar_t* gr = gos + r * channels;
            const scalar_t* yr = ys + r * channels;
            scalar_t* out = gis + r * channels;
            int64_t c = 0;
            for (; c + L::step <= channels; c += L::step) {
              auto gv = L::load(gr + c);
              const auto yv = L::load(yr + c);
              for (int j = 0; j < L::count; ++j) {
                const int64_t cj = c + j * V::size();
                gv[j] = f(gv[j], yv[j]);
                (V::loadu(acc + cj) + gv[j]).store(acc + cj);
              }
              L::store(out + c, gv);
            }
            for (; c < channels; ++c) {
              const opmath_t v = f(static_cast<opmath_t>(gr[c]), static_cast<opmath_t>(yr[c]));
              out[c] = static_cast<scalar_t>(v);
              acc[c] += v;
            }
          }
        }
      });
      combine_partials(partial, chunks, C, gb);
      return;
    }

    const int64_t inner = layout.inner;
    const int64_t planes = n / inner;
    if (inner < kSmallPlane) {
      // Small planes (4x4, 8x8): reducing every plane's lanes would cost more than the plane
      // itself, so each channel's lanes add up over a fixed tile of samples and are reduced once
      // per tile; the tiles' sums are combined in tile order.
      const int64_t N = planes / C;
      const int64_t per_tile = std::clamp<int64_t>(
          std::min(kSumBlock / inner, kChunkValues * 4 / (C * inner)), 1, N);
      const int64_t tiles = (N + per_tile - 1) / per_tile;
      std::vector<double> partial(tiles * C);
      at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
        const GradFromOutput<opmath_t> f = grad;
        const scalar_t* gos = go;
        const scalar_t* ys = y;
        scalar_t* gis = gi;
        const int64_t channels = C, S = inner, samples = N, per = per_tile;
        std::vector<opmath_t> lanes(channels * V::size()), tails(channels);  // per task
        for (int64_t t = t0; t < t1; ++t) {
          std::fill(lanes.begin(), lanes.end(), opmath_t(0));
          std::fill(tails.begin(), tails.end(), opmath_t(0));
          for (int64_t smp = t * per; smp < std::min(samples, (t + 1) * per); ++smp) {
            if (S < L::step) {
              // Planes shorter than a vector: the sample at once, vectorised, then the plane
              // sums from the values just written (in cache).
              const int64_t base = smp * channels * S;
              map_binary(gos + base, ys + base, gis + base, 0, channels * S, f);
              for (int64_t c = 0; c < channels; ++c) {
                for (int64_t i = 0; i < S; ++i) tails[c] += static_cast<opmath_t>(gis[base + c * S + i]);
              }
              continue;
            }
            for (int64_t c = 0; c < channels; ++c) {
              const int64_t off = (smp * channels + c) * S;
              V acc0(opmath_t(0)), acc1(opmath_t(0));  // two chains: add latency, not loads, bound one
              int64_t i = 0;
              for (; i + 2 * L::step <= S; i += 2 * L::step) {
                auto g0 = L::load(gos + off + i);
                auto g1 = L::load(gos + off + i + L::step);
                const auto y0 = L::load(ys + off + i);
                const auto y1 = L::load(ys + off + i + L::step);
                for (int j = 0; j < L::count; ++j) {
                  g0[j] = f(g0[j], y0[j]);
                  g1[j] = f(g1[j], y1[j]);
                  acc0 = acc0 + g0[j];
                  acc1 = acc1 + g1[j];
                }
                L::store(gis + off + i, g0);
                L::store(gis + off + i + L::step, g1);
              }
              if (i + L::step <= S) {
                auto g0 = L::load(gos + off + i);
                const auto y0 = L::load(ys + off + i);
                for (int j = 0; j < L::count; ++j) {
                  g0[j] = f(g0[j], y0[j]);
                  acc0 = acc0 + g0[j];
                }
                L::store(gis + off + i, g0);
                i += L::step;
              }
              opmath_t* lc = lanes.data() + c * V::size();
              (V::loadu(lc) + (acc0 + acc1)).store(lc);
              for (; i < S; ++i) {
                const opmath_t v = f(static_cast<opmath_t>(gos[off + i]), static_cast<opmath_t>(ys[off + i]));
                gis[off + i] = static_cast<scalar_t>(v);
                tails[c] += v;
              }
            }
          }
          for (int64_t c = 0; c < channels; ++c) {
            const opmath_t sum = at::vec::vec_reduce_all<opmath_t>(
                [](const V& a, const V& b) { return a + b; }, V::loadu(lanes.data() + c * V::size()));
            partial[t * channels + c] = static_cast<double>(sum) + static_cast<double>(tails[c]);
          }
        }
      });
      combine_partials(partial, tiles, C, gb);
      return;
    }
    // Planes of `inner` elements that share one channel: one sum per plane, then per channel
    // over the batch in sample order.
    std::vector<double> plane_sum(planes);
    const int64_t grain = std::max<int64_t>(1, kGrain / inner);
    at::parallel_for(0, planes, grain, [&](int64_t p0, int64_t p1) {
      const GradFromOutput<opmath_t> f = grad;
      const scalar_t* gos = go;
      const scalar_t* ys = y;
      scalar_t* gis = gi;
      const int64_t S = inner;
      for (int64_t p = p0; p < p1; ++p) {
        plane_sum[p] = map_binary_sum(gos + p * S, ys + p * S, gis + p * S, S, f);
      }
    });
    combine_partials(plane_sum, planes / C, C, gb);
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
