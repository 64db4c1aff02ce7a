// The DiffAugment kernels, compiled once per ISA (see cpu/isa.h). One sample is one task: its
// sum (the contrast mean, or the adjoint's kept sum) is taken first, then its output is written
// row by row while the sample's ~12-50 KB stay in cache, so memory sees one read and one write.
// The forward map and its adjoint are the same loop (pygan_math.h: augment_coeffs).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../augment_setup.h"
#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {

constexpr int64_t kBlock = 1 << 14;            // values summed in the math type before a double add
constexpr int64_t kElementwiseGrain = 1 << 15;

template <typename scalar_t>
double block_sum(const scalar_t* x, int64_t n) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  double total = 0.0;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    V acc(opmath_t(0));
    opmath_t tail = 0;
    visit_unary(x, begin, std::min(n, begin + kBlock), [&](auto v) {
      if constexpr (std::is_same_v<decltype(v), V>) acc = acc + v;
      else tail += v;
    });
    total += horizontal_sum(acc) + static_cast<double>(tail);
  }
  return total;
}

// dst[i] = scale * src[i] + mix * m[i] + offset over n values (m in the math type).
template <typename scalar_t, typename opmath_t>
void affine_row(const scalar_t* src, const opmath_t* m, scalar_t* dst, int64_t n,
                const math::AugmentCoeffs<opmath_t>& k) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  int64_t i = 0;
  for (; i + L::step <= n; i += L::step) {
    auto v = L::load(src + i);
    for (int j = 0; j < L::count; ++j) {
      v[j] = math::augment_value(v[j], V::loadu(m + i + j * V::size()), k.scale, k.mix, k.offset);
    }
    L::store(dst + i, v);
  }
  for (; i < n; ++i) {
    dst[i] = static_cast<scalar_t>(
        math::augment_value(static_cast<opmath_t>(src[i]), m[i], k.scale, k.mix, k.offset));
  }
}

// The columns [x0, x1) of output row y that read a source value, as at most two runs.
struct Runs {
  int64_t begin[2], end[2];
  int count = 0;
};

Runs kept_runs(const math::AugmentGeometry& g, int64_t y, int64_t height, int64_t width) {
  Runs r;
  const int64_t sy = y + g.dy;
  if (sy < 0 || sy >= height) return r;
  const int64_t lo = std::max<int64_t>(0, -g.dx), hi = std::min<int64_t>(width, width - g.dx);
  const bool cut = y >= g.y0 && y < g.y1 && g.x0 < g.x1;
  const auto add = [&r](int64_t b, int64_t e) {
    if (b < e) r.begin[r.count] = b, r.end[r.count++] = e;
  };
  if (!cut) {
    add(lo, hi);
  } else {
    add(lo, std::min<int64_t>(hi, g.x0));
    add(std::max<int64_t>(lo, g.x1), hi);
  }
  return r;
}

// Sum over the kept positions of their source values (all channels).
template <typename scalar_t>
double kept_sum(const scalar_t* src, const ImageLayout& l, const math::AugmentGeometry& g) {
  double total = 0.0;
  for (int64_t y = 0; y < l.height; ++y) {
    const Runs r = kept_runs(g, y, l.height, l.width);
    for (int k = 0; k < r.count; ++k) {
      const int64_t n = r.end[k] - r.begin[k];
      const scalar_t* row = src + (y + g.dy) * l.row + (r.begin[k] + g.dx) * l.pixel;
      if (l.channels_last) {
        total += block_sum(row, n * l.channels);
      } else {
        for (int64_t c = 0; c < l.channels; ++c) total += block_sum(row + c * l.channel, n);
      }
    }
  }
  return total;
}

// One sample: every output position gets `fill`, then the kept runs get the affine map of
// their source values. `m` holds a row of channel sums (width * channels values).
template <typename scalar_t, typename opmath_t>
void augment_sample(const scalar_t* src, scalar_t* dst, const ImageLayout& l, const math::AugmentGeometry& g,
                    const math::AugmentCoeffs<opmath_t>& k, opmath_t* m) {
  const scalar_t fill = static_cast<scalar_t>(k.fill);
  for (int64_t y = 0; y < l.height; ++y) {
    scalar_t* out = dst + y * l.row;
    if (l.channels_last) {
      std::fill(out, out + l.row, fill);
    } else {
      for (int64_t c = 0; c < l.channels; ++c) std::fill(out + c * l.channel, out + c * l.channel + l.width, fill);
    }
    const Runs r = kept_runs(g, y, l.height, l.width);
    for (int run = 0; run < r.count; ++run) {
      const int64_t x0 = r.begin[run], n = r.end[run] - x0;
      const scalar_t* in = src + (y + g.dy) * l.row + (x0 + g.dx) * l.pixel;
      if (l.channels_last) {
        // m[j] = the channel sum of pixel j / C (integer division), repeated for each of its C values.
        for (int64_t p = 0; p < n; ++p) {
          opmath_t s = 0;
          for (int64_t c = 0; c < l.channels; ++c) s += static_cast<opmath_t>(in[p * l.channels + c]);
          std::fill(m + p * l.channels, m + (p + 1) * l.channels, s);
        }
        affine_row(in, m, out + x0 * l.pixel, n * l.channels, k);
      } else {
        std::fill(m, m + n, opmath_t(0));
        for (int64_t c = 0; c < l.channels; ++c) {
          const scalar_t* plane = in + c * l.channel;
          for (int64_t p = 0; p < n; ++p) m[p] += static_cast<opmath_t>(plane[p]);
        }
        for (int64_t c = 0; c < l.channels; ++c) affine_row(in + c * l.channel, m, out + c * l.channel + x0, n, k);
      }
    }
  }
}

// adjoint = false: out = augment(x); true: out = augment's adjoint applied to x (= grad_output).
void diff_augment_loop(const at::Tensor& input, const at::Tensor& color, const at::Tensor& geometry,
                       const ImageLayout& l, bool adjoint, at::Tensor& out) {
  if (input.numel() == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "pygan_diff_augment_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    scalar_t* y = out.data_ptr<scalar_t>();
    const opmath_t* col = color.const_data_ptr<opmath_t>();
    const auto* geo = reinterpret_cast<const long long*>(geometry.const_data_ptr<int64_t>());
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / l.sample);
    at::parallel_for(0, l.samples, grain, [&](int64_t s0, int64_t s1) {
      std::vector<opmath_t> m(l.width * l.channels);
      for (int64_t s = s0; s < s1; ++s) {
        const scalar_t* src = x + s * l.sample;
        const opmath_t* c = col + 3 * s;
        math::AugmentGeometry g = math::augment_geometry(geo + 6 * s, l.height, l.width);
        math::AugmentCoeffs<opmath_t> k;
        if (adjoint) {
          g = math::augment_adjoint_geometry(g, l.height, l.width);
          const double kept = kept_sum(src, l, g);  // the gradient's sum where the forward kept the image
          k = math::augment_adjoint_coeffs<opmath_t>(c[1], c[2], l.channels, l.sample, static_cast<opmath_t>(kept));
        } else {
          const double mean = block_sum(src, l.sample) / static_cast<double>(l.sample);
          k = math::augment_coeffs<opmath_t>(c[0], c[1], c[2], l.channels, static_cast<opmath_t>(mean));
        }
        augment_sample(src, y + s * l.sample, l, g, k, m.data());
      }
    });
  });
}

}  // namespace

void diff_augment_kernel(const at::Tensor& input, const at::Tensor& color, const at::Tensor& geometry,
                         const ImageLayout& layout, at::Tensor& out) {
  diff_augment_loop(input, color, geometry, layout, /*adjoint=*/false, out);
}

void diff_augment_backward_kernel(const at::Tensor& grad_output, const at::Tensor& color,
                                  const at::Tensor& geometry, const ImageLayout& layout, at::Tensor& grad_input) {
  diff_augment_loop(grad_output, color, geometry, layout, /*adjoint=*/true, grad_input);
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
