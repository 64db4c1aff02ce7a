// BatchNorm (batch statistics) + LeakyReLU, compiled once per ISA (see cpu/isa.h).
//
// Channels-first input is processed one channel at a time: its values (N planes) are read from
// memory once and the later passes (variance, apply; or the backward's second pass) find them in
// the L2 cache. Channels-last input is walked in rows of C channels with per-chunk partial sums.
// Every sum runs over fixed blocks combined in a fixed order, so results do not depend on the
// number of threads.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {

constexpr int64_t kBlock = 4096;         // values summed in the math type before widening to double
constexpr int64_t kChunkValues = 8192;   // rows-layout chunk size, in values (rows x C)
constexpr int64_t kElementwiseGrain = 1 << 15;

// A running sum in math-type vector lanes, widened into a double at every flush (every kBlock
// values), so that float accumulation error stays bounded however long the channel.
template <typename opmath_t>
struct Accumulator {
  using V = at::vec::Vectorized<opmath_t>;
  V lanes{opmath_t(0)};
  double total = 0.0;
  void add(const V& v) { lanes = lanes + v; }
  void add(opmath_t v) { total += static_cast<double>(v); }
  void flush() {
    total += horizontal_sum(lanes);
    lanes = V(opmath_t(0));
  }
};

// Calls visit(offset, begin, end) over the values of channel c (channels-first layout), in order,
// in pieces of at most kBlock values, and flush() after every kBlock values or fewer.
template <typename Visit, typename Flush>
void for_channel_values(const ChannelLayout& l, int64_t c, const Visit& visit, const Flush& flush) {
  const int64_t C = l.channels, S = l.inner;
  int64_t pending = 0;
  for (int64_t n = 0; n < l.outer; ++n) {
    const int64_t offset = (n * C + c) * S;
    for (int64_t begin = 0; begin < S; begin += kBlock) {
      const int64_t end = std::min(S, begin + kBlock);
      visit(offset, begin, end);
      pending += end - begin;
      if (pending >= kBlock) {
        flush();
        pending = 0;
      }
    }
  }
  flush();
}

struct GradSums {
  double dz = 0.0;     // sum of dz
  double dz_xc = 0.0;  // sum of dz * (x - mean)
};

// The backward's sums over channel c (channels-first layout).
template <typename scalar_t, typename opmath_t>
GradSums channel_grad_sums(const scalar_t* dy, const scalar_t* x, const ChannelLayout& l, int64_t c,
                           opmath_t mean, opmath_t scale, opmath_t bias, opmath_t slope) {
  Accumulator<opmath_t> dz_sum, dz_xc_sum;
  for_channel_values(
      l, c,
      [&](int64_t offset, int64_t begin, int64_t end) {
        visit_binary(dy + offset, x + offset, begin, end, [&](auto g, auto v) {
          using T = decltype(g);
          const T dz = math::bn_leaky_relu_dz(g, v, T(mean), T(scale), T(bias), T(slope));
          dz_sum.add(dz);
          dz_xc_sum.add(dz * (v - T(mean)));
        });
      },
      [&] {
        dz_sum.flush();
        dz_xc_sum.flush();
      });
  return {dz_sum.total, dz_xc_sum.total};
}

// Per-channel values in the math type, as vectors at channel offset c.
template <typename V, typename opmath_t>
V at_channel(const std::vector<opmath_t>& values, int64_t c) {
  return V::loadu(values.data() + c);
}

// One row of C channels: out[c] = f(in[c], c) vectorised, f(value, channel offset).
template <typename scalar_t, typename F>
void map_row(const scalar_t* in, scalar_t* out, int64_t C, const F& f) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  int64_t c = 0;
  for (; c + L::step <= C; c += L::step) {
    auto v = L::load(in + c);
    for (int k = 0; k < L::count; ++k) v[k] = f(v[k], c + k * V::size());
    L::store(out + c, v);
  }
  for (; c < C; ++c) out[c] = static_cast<scalar_t>(f(static_cast<opmath_t>(in[c]), c));
}

// Per-channel mean, scale and bias in the math type (vectors load from them at channel c).
template <typename opmath_t>
struct ChannelArrays {
  std::vector<opmath_t> mean, scale, bias;
  explicit ChannelArrays(int64_t C) : mean(C), scale(C), bias(C) {}
};

template <typename opmath_t>
ChannelArrays<opmath_t> channel_arrays(const double* mean, const double* invstd, const opmath_t* weight,
                                       const opmath_t* bias, int64_t C) {
  ChannelArrays<opmath_t> a(C);
  for (int64_t c = 0; c < C; ++c) {
    a.mean[c] = static_cast<opmath_t>(mean[c]);
    a.scale[c] = static_cast<opmath_t>(math::bn_scale<double>(invstd[c], weight[c]));
    a.bias[c] = bias[c];
  }
  return a;
}

struct Rows {
  int64_t rows, per_chunk, chunks;
  Rows(int64_t rows_, int64_t C)
      : rows(rows_), per_chunk(std::max<int64_t>(1, kChunkValues / std::max<int64_t>(C, 1))),
        chunks((rows_ + per_chunk - 1) / per_chunk) {}
  int64_t begin(int64_t k) const { return k * per_chunk; }
  int64_t end(int64_t k) const { return std::min(rows, (k + 1) * per_chunk); }
};

// Per-channel sums over rows [r0, r1): acc[c] += f(row values at c, c) (vectorised over c).
template <typename scalar_t, typename opmath_t, typename F>
void accumulate_rows(const scalar_t* x, int64_t r0, int64_t r1, int64_t C, opmath_t* acc, const F& f) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  for (int64_t r = r0; r < r1; ++r) {
    const scalar_t* row = x + r * C;
    int64_t c = 0;
    for (; c + L::step <= C; c += L::step) {
      const auto v = L::load(row + c);
      for (int k = 0; k < L::count; ++k) {
        const int64_t ck = c + k * V::size();
        (V::loadu(acc + ck) + f(v[k], ck)).store(acc + ck);
      }
    }
    for (; c < C; ++c) acc[c] += f(static_cast<opmath_t>(row[c]), c);
  }
}

template <typename scalar_t>
void forward_planes(const scalar_t* x, const ChannelLayout& l, double eps, double* mean,
                    double* invstd) {
  using opmath_t = at::opmath_type<scalar_t>;
  const double count = static_cast<double>(l.count());
  at::parallel_for(0, l.channels, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Accumulator<opmath_t> sum;
      for_channel_values(
          l, c,
          [&](int64_t offset, int64_t begin, int64_t end) {
            visit_unary(x + offset, begin, end, [&](auto v) { sum.add(v); });
          },
          [&] { sum.flush(); });
      // Second pass on data shifted by the rounded mean (still in cache): both sums are small,
      // so neither rounding of the mean nor cancellation costs precision.
      const opmath_t mf = static_cast<opmath_t>(sum.total / count);
      Accumulator<opmath_t> shifted, squares;
      for_channel_values(
          l, c,
          [&](int64_t offset, int64_t begin, int64_t end) {
            visit_unary(x + offset, begin, end, [&](auto v) {
              using T = decltype(v);
              const T d = v - T(mf);
              shifted.add(d);
              squares.add(d * d);
            });
          },
          [&] {
            shifted.flush();
            squares.flush();
          });
      const double d = shifted.total / count;
      const double var = std::max(0.0, squares.total / count - d * d);
      mean[c] = static_cast<double>(mf) + d;
      invstd[c] = 1.0 / std::sqrt(var + eps);
    }
  });
}

// Per-channel sums over rows [r0, r1) of d = x - shift[c]: acc1[c] += d, acc2[c] += d * d, in one
// pass (vectorised over c).
template <typename scalar_t, typename opmath_t>
void accumulate_shifted_rows(const scalar_t* x, int64_t r0, int64_t r1, int64_t C, const opmath_t* shift,
                             opmath_t* acc1, opmath_t* acc2) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  for (int64_t r = r0; r < r1; ++r) {
    const scalar_t* row = x + r * C;
    int64_t c = 0;
    for (; c + L::step <= C; c += L::step) {
      const auto v = L::load(row + c);
      for (int k = 0; k < L::count; ++k) {
        const int64_t ck = c + k * V::size();
        const V d = v[k] - V::loadu(shift + ck);
        (V::loadu(acc1 + ck) + d).store(acc1 + ck);
        (V::loadu(acc2 + ck) + d * d).store(acc2 + ck);
      }
    }
    for (; c < C; ++c) {
      const opmath_t d = static_cast<opmath_t>(row[c]) - shift[c];
      acc1[c] += d;
      acc2[c] += d * d;
    }
  }
}

template <typename scalar_t>
void forward_rows(const scalar_t* x, const ChannelLayout& l, double eps, double* mean,
                  double* invstd) {
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t C = l.channels;
  const Rows rows(l.count(), C);
  // Per chunk: its exact mean (double) and its sum of squared deviations from it.
  std::vector<double> chunk_mean(rows.chunks * C);
  std::vector<opmath_t> chunk_m2(rows.chunks * C);
  at::parallel_for(0, rows.chunks, 1, [&](int64_t k0, int64_t k1) {
    std::vector<opmath_t> m(C), shift_sum(C);  // one per task, reused by its chunks
    for (int64_t k = k0; k < k1; ++k) {
      opmath_t* q = chunk_m2.data() + k * C;
      const int64_t r0 = rows.begin(k), r1 = rows.end(k);
      const opmath_t count = static_cast<opmath_t>(r1 - r0);
      std::fill(m.begin(), m.end(), opmath_t(0));
      accumulate_rows(x, r0, r1, C, m.data(), [](auto v, int64_t) { return v; });
      for (int64_t c = 0; c < C; ++c) m[c] /= count;
      // Second pass (the chunk is in cache) on data shifted by the rounded chunk mean; the
      // shifted sum corrects both the mean and the squares for that rounding.
      std::fill(shift_sum.begin(), shift_sum.end(), opmath_t(0));
      std::fill(q, q + C, opmath_t(0));
      accumulate_shifted_rows(x, r0, r1, C, m.data(), shift_sum.data(), q);
      for (int64_t c = 0; c < C; ++c) {
        const opmath_t d = shift_sum[c] / count;
        chunk_mean[k * C + c] = static_cast<double>(m[c]) + static_cast<double>(d);
        q[c] = std::max(opmath_t(0), q[c] - d * shift_sum[c]);
      }
    }
  });
  // Combine the chunks in chunk order: mean = sum(n_k mean_k) / n, then
  // m2 = sum(m2_k + n_k (mean_k - mean)^2): no division per chunk, vectorised over channels.
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(rows.chunks, 1));
  const double total = static_cast<double>(rows.rows);
  at::parallel_for(0, C, grain, [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> mu(w, 0.0), m2(w, 0.0);
    for (int64_t k = 0; k < rows.chunks; ++k) {
      const double n_k = static_cast<double>(rows.end(k) - rows.begin(k));
      const double* cm = chunk_mean.data() + k * C + c0;
      for (int64_t j = 0; j < w; ++j) mu[j] += n_k * cm[j];
    }
    for (int64_t j = 0; j < w; ++j) mu[j] /= total;
    for (int64_t k = 0; k < rows.chunks; ++k) {
      const double n_k = static_cast<double>(rows.end(k) - rows.begin(k));
      const double* cm = chunk_mean.data() + k * C + c0;
      const opmath_t* cq = chunk_m2.data() + k * C + c0;
      for (int64_t j = 0; j < w; ++j) {
        const double d = cm[j] - mu[j];
        m2[j] += static_cast<double>(cq[j]) + n_k * d * d;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      mean[c0 + j] = mu[j];
      invstd[c0 + j] = 1.0 / std::sqrt(m2[j] / total + eps);
    }
  });
}

template <typename scalar_t>
void apply(const scalar_t* x, const ChannelLayout& l, const ChannelArrays<at::opmath_type<scalar_t>>& p,
           at::opmath_type<scalar_t> slope, scalar_t* y) {
  using opmath_t = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<opmath_t>;
  const int64_t C = l.channels;
  if (l.rows) {
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(C, 1));
    at::parallel_for(0, l.count(), grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        map_row(x + r * C, y + r * C, C, [&](auto v, int64_t c) {
          using T = decltype(v);
          if constexpr (std::is_arithmetic_v<T>) {
            return math::bn_leaky_relu(v, p.mean[c], p.scale[c], p.bias[c], slope);
          } else {
            return math::bn_leaky_relu(v, at_channel<V>(p.mean, c), at_channel<V>(p.scale, c),
                                       at_channel<V>(p.bias, c), V(slope));
          }
        });
      }
    });
    return;
  }
  const int64_t S = l.inner;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(S, 1));
  at::parallel_for(0, l.outer * C, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t plane = p0; plane < p1; ++plane) {
      const int64_t c = plane % C;
      const opmath_t mean = p.mean[c], scale = p.scale[c], bias = p.bias[c];
      map_unary(x + plane * S, y + plane * S, 0, S, [&](auto v) {
        using T = decltype(v);
        return math::bn_leaky_relu(v, T(mean), T(scale), T(bias), T(slope));
      });
    }
  });
}

// Backward coefficients per channel: dx = a * dz + b * x + c.
template <typename opmath_t>
struct GradArrays {
  std::vector<opmath_t> a, b, c;
  explicit GradArrays(int64_t C) : a(C), b(C), c(C) {}
};

// From channel c's sums: its input-gradient coefficients (into k) and its parameter gradients.
template <typename opmath_t>
void finish_channel(int64_t c, const GradSums& sums, const double* invstd, const ChannelArrays<opmath_t>& p,
                    double count, opmath_t* grad_weight, opmath_t* grad_bias, GradArrays<opmath_t>& k) {
  const auto co = math::bn_grad_coeffs<double>(invstd[c], p.scale[c], sums.dz, sums.dz_xc, count);
  k.a[c] = static_cast<opmath_t>(co.a);
  k.b[c] = static_cast<opmath_t>(co.b);
  k.c[c] = static_cast<opmath_t>(co.c);
  grad_weight[c] = static_cast<opmath_t>(sums.dz_xc * invstd[c]);
  grad_bias[c] = static_cast<opmath_t>(sums.dz);
}

}  // namespace

void batch_norm_leaky_relu_kernel(const at::Tensor& input, const ChannelLayout& layout,
                                  const at::Tensor& weight, const at::Tensor& bias, double eps,
                                  double negative_slope, at::Tensor& out, at::Tensor& mean,
                                  at::Tensor& invstd) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "pygan_batch_norm_leaky_relu_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const int64_t C = layout.channels;
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    std::vector<double> m(C), inv(C);
    if (layout.rows) {
      forward_rows(x, layout, eps, m.data(), inv.data());
    } else {
      forward_planes(x, layout, eps, m.data(), inv.data());
    }
    opmath_t* mean_out = mean.data_ptr<opmath_t>();
    opmath_t* invstd_out = invstd.data_ptr<opmath_t>();
    for (int64_t c = 0; c < C; ++c) {
      mean_out[c] = static_cast<opmath_t>(m[c]);
      invstd_out[c] = static_cast<opmath_t>(inv[c]);
    }
    const auto p = channel_arrays(m.data(), inv.data(), weight.const_data_ptr<opmath_t>(),
                                  bias.const_data_ptr<opmath_t>(), C);
    apply(x, layout, p, static_cast<opmath_t>(negative_slope), out.data_ptr<scalar_t>());
  });
}

void batch_norm_leaky_relu_backward_kernel(const at::Tensor& grad_out, const at::Tensor& input,
                                           const ChannelLayout& layout, const at::Tensor& mean,
                                           const at::Tensor& invstd, const at::Tensor& weight,
                                           const at::Tensor& bias, double negative_slope,
                                           at::Tensor& grad_input, at::Tensor& grad_weight,
                                           at::Tensor& grad_bias) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "pygan_batch_norm_leaky_relu_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    using V = at::vec::Vectorized<opmath_t>;
    const int64_t C = layout.channels;
    const opmath_t slope = static_cast<opmath_t>(negative_slope);
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    const scalar_t* dy = grad_out.const_data_ptr<scalar_t>();
    scalar_t* dx = grad_input.data_ptr<scalar_t>();
    std::vector<double> m(C), inv(C);
    for (int64_t c = 0; c < C; ++c) {
      m[c] = static_cast<double>(mean.const_data_ptr<opmath_t>()[c]);
      inv[c] = static_cast<double>(invstd.const_data_ptr<opmath_t>()[c]);
    }
    const auto p = channel_arrays(m.data(), inv.data(), weight.const_data_ptr<opmath_t>(),
                                  bias.const_data_ptr<opmath_t>(), C);
    const double count = static_cast<double>(layout.count());
    GradArrays<opmath_t> k(C);
    opmath_t* gw = grad_weight.data_ptr<opmath_t>();
    opmath_t* gb = grad_bias.data_ptr<opmath_t>();

    if (!layout.rows) {
      // One channel at a time: the second pass finds the channel's planes in cache.
      const int64_t S = layout.inner;
      at::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const GradSums s = channel_grad_sums(dy, x, layout, c, p.mean[c], p.scale[c], p.bias[c], slope);
          finish_channel(c, s, inv.data(), p, count, gw, gb, k);
          const opmath_t a = k.a[c], b = k.b[c], cc = k.c[c];
          const opmath_t mean = p.mean[c], scale = p.scale[c], bias = p.bias[c];
          for (int64_t n = 0; n < layout.outer; ++n) {
            const int64_t off = (n * C + c) * S;
            map_binary(dy + off, x + off, dx + off, 0, S, [&](auto g, auto v) {
              using T = decltype(g);
              const T dz = math::bn_leaky_relu_dz(g, v, T(mean), T(scale), T(bias), T(slope));
              return math::bn_grad_input(dz, v, T(mean), math::BnGradCoeffs<T>{T(a), T(b), T(cc)});
            });
          }
        }
      });
      return;
    }

    // Rows of C channels: per-chunk partial sums, combined in chunk order.
    const Rows rows(layout.count(), C);
    std::vector<opmath_t> part_dz(rows.chunks * C, opmath_t(0)), part_dz_xc(rows.chunks * C, opmath_t(0));
    at::parallel_for(0, rows.chunks, 1, [&](int64_t k0, int64_t k1) {
      using L = Lanes<scalar_t>;
      for (int64_t kk = k0; kk < k1; ++kk) {
        opmath_t* s1 = part_dz.data() + kk * C;
        opmath_t* s2 = part_dz_xc.data() + kk * C;
        for (int64_t r = rows.begin(kk); r < rows.end(kk); ++r) {
          const scalar_t* xr = x + r * C;
          const scalar_t* gr = dy + r * C;
          int64_t c = 0;
          for (; c + L::step <= C; c += L::step) {
            const auto g = L::load(gr + c);
            const auto v = L::load(xr + c);
            for (int j = 0; j < L::count; ++j) {
              const int64_t cj = c + j * V::size();
              const V dz = math::bn_leaky_relu_dz(g[j], v[j], at_channel<V>(p.mean, cj), at_channel<V>(p.scale, cj),
                                                  at_channel<V>(p.bias, cj), V(slope));
              (V::loadu(s1 + cj) + dz).store(s1 + cj);
              (V::loadu(s2 + cj) + dz * (v[j] - at_channel<V>(p.mean, cj))).store(s2 + cj);
            }
          }
          for (; c < C; ++c) {
            const opmath_t xv = static_cast<opmath_t>(xr[c]);
            const opmath_t dz = math::bn_leaky_relu_dz(static_cast<opmath_t>(gr[c]), xv, p.mean[c],
                                                       p.scale[c], p.bias[c], slope);
            s1[c] += dz;
            s2[c] += dz * (xv - p.mean[c]);
          }
        }
      }
    });
    {
      // Chunk order, so thread-count independent; chunk-major so the adds run along channels.
      std::vector<double> s1(C, 0.0), s2(C, 0.0);
      for (int64_t kk = 0; kk < rows.chunks; ++kk) {
        const opmath_t* p1 = part_dz.data() + kk * C;
        const opmath_t* p2 = part_dz_xc.data() + kk * C;
        for (int64_t c = 0; c < C; ++c) {
          s1[c] += static_cast<double>(p1[c]);
          s2[c] += static_cast<double>(p2[c]);
        }
      }
      for (int64_t c = 0; c < C; ++c) finish_channel(c, GradSums{s1[c], s2[c]}, inv.data(), p, count, gw, gb, k);
    }
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(C, 1));
    at::parallel_for(0, rows.rows, grain, [&](int64_t r0, int64_t r1) {
      using L = Lanes<scalar_t>;
      for (int64_t r = r0; r < r1; ++r) {
        const scalar_t* xr = x + r * C;
        const scalar_t* gr = dy + r * C;
        scalar_t* out = dx + r * C;
        int64_t c = 0;
        for (; c + L::step <= C; c += L::step) {
          auto g = L::load(gr + c);
          const auto v = L::load(xr + c);
          for (int j = 0; j < L::count; ++j) {
            const int64_t cj = c + j * V::size();
            const V dz = math::bn_leaky_relu_dz(g[j], v[j], at_channel<V>(p.mean, cj), at_channel<V>(p.scale, cj),
                                                at_channel<V>(p.bias, cj), V(slope));
            const math::BnGradCoeffs<V> coeffs{at_channel<V>(k.a, cj), at_channel<V>(k.b, cj),
                                               at_channel<V>(k.c, cj)};
            g[j] = math::bn_grad_input(dz, v[j], at_channel<V>(p.mean, cj), coeffs);
          }
          L::store(out + c, g);
        }
        for (; c < C; ++c) {
          const opmath_t xv = static_cast<opmath_t>(xr[c]);
          const opmath_t dz = math::bn_leaky_relu_dz(static_cast<opmath_t>(gr[c]), xv, p.mean[c],
                                                     p.scale[c], p.bias[c], slope);
          const math::BnGradCoeffs<opmath_t> coeffs{k.a[c], k.b[c], k.c[c]};
          out[c] = static_cast<scalar_t>(math::bn_grad_input(dz, xv, p.mean[c], coeffs));
        }
      }
    });
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
