// Every formula pygan computes, written once.
//
// The formulas are templates over the arithmetic type T. T is float or double on the CUDA device
// and in scalar CPU loops, and at::vec::Vectorized<float|double> in vectorised CPU loops (whose
// primitive overloads live in cpu/vec_math.h and must be declared before this header). So the CPU
// tests verify the same arithmetic the GPU runs.
#pragma once

#include <cmath>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define PYGAN_HD __host__ __device__ __forceinline__
#else
#define PYGAN_HD inline
#endif

// CPU kernel files compile this header once per instruction set, each inside its own namespace,
// so that no inline function is shared between translation units built for different ISAs.
#ifndef PYGAN_MATH_NS
#define PYGAN_MATH_NS pygan::math
#endif

namespace PYGAN_MATH_NS {

// ---- scalar primitives (NaN in `a` propagates, like torch.maximum / torch.minimum) ----
PYGAN_HD float exp_(float a) { return ::expf(a); }
PYGAN_HD double exp_(double a) { return ::exp(a); }
PYGAN_HD float log_(float a) { return ::logf(a); }
PYGAN_HD double log_(double a) { return ::log(a); }
PYGAN_HD float abs_(float a) { return ::fabsf(a); }
PYGAN_HD double abs_(double a) { return ::fabs(a); }
template <typename S>
PYGAN_HD S max_(S a, S b) { return a < b ? b : a; }
template <typename S>
PYGAN_HD S min_(S a, S b) { return a > b ? b : a; }
// `when_pos` where x > 0 (strictly), else `otherwise`. Branch-free select.
template <typename S>
PYGAN_HD S select_pos(S x, S when_pos, S otherwise) { return x > S(0) ? when_pos : otherwise; }
// `when_nonneg` where x >= 0, else `otherwise`.
template <typename S>
PYGAN_HD S select_nonneg(S x, S when_nonneg, S otherwise) { return x >= S(0) ? when_nonneg : otherwise; }

// log1p(e) for e in [0, 1], from one log (about 3x cheaper than a vectorised log1p on the CPU):
// with u = 1 + e rounded, log(u) * e / (u - 1) cancels the rounding of u (Goldberg's trick), and
// where u rounds to 1, log1p(e) = e to working precision. NaN propagates through the select.
template <typename T>
PYGAN_HD T log1p_unit(T e) {
  const T u = T(1) + e;
  const T d = u - T(1);
  return select_pos(d, log_(u) * (e / d), e);
}

// ---- logistic pieces, sharing one exp(-|x|) ----

// sigmoid(x) and sigmoid(-x) without overflow for any finite x.
template <typename T>
struct SigmoidPair {
  T pos;  // sigmoid(x)
  T neg;  // sigmoid(-x) = 1 - sigmoid(x), computed without cancellation
};

template <typename T>
PYGAN_HD SigmoidPair<T> sigmoid_pair_from_exp(T x, T e) {
  // e = exp(-|x|) in (0, 1]; 1 / (1 + e) is the larger of the two probabilities.
  const T big = T(1) / (T(1) + e);
  const T small = e * big;
  return {select_nonneg(x, big, small), select_nonneg(x, small, big)};
}

template <typename T>
PYGAN_HD SigmoidPair<T> sigmoid_pair(T x) {
  return sigmoid_pair_from_exp(x, exp_(-abs_(x)));
}

// softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <typename T>
PYGAN_HD T softplus(T x) {
  return max_(x, T(0)) + log1p_unit(exp_(-abs_(x)));
}

// ---- GAN losses on discriminator logits ----
//
// With D(x) = sigmoid(l):  -log D = softplus(-l),  -log(1 - D) = softplus(l).

template <typename T>
struct TermAndProb {
  T term;  // the loss term of one logit
  T prob;  // D = sigmoid(logit), reported for logging
};

// Real logit with target t (t = 1 - smoothing): BCE(l, t) = softplus(-l) + (1 - t) * l.
// `one_minus_t` is 0 without smoothing; the multiply is skipped then so that l = +-inf
// gives the exact limit instead of 0 * inf.
template <typename T>
PYGAN_HD TermAndProb<T> bce_real(T l, T one_minus_t, bool smoothed) {
  const T e = exp_(-abs_(l));
  const T shared = log1p_unit(e);
  T term = max_(-l, T(0)) + shared;
  if (smoothed) term = term + one_minus_t * l;
  return {term, sigmoid_pair_from_exp(l, e).pos};
}

// d BCE(l, t) / dl = sigmoid(l) - t = (1 - t) - sigmoid(-l).
template <typename T>
PYGAN_HD T bce_real_grad(T l, T one_minus_t) {
  return one_minus_t - sigmoid_pair(l).neg;
}

// Fake logit, target 0: -log(1 - D) = softplus(l).
template <typename T>
PYGAN_HD TermAndProb<T> bce_fake(T l) {
  const T e = exp_(-abs_(l));
  return {max_(l, T(0)) + log1p_unit(e), sigmoid_pair_from_exp(l, e).pos};
}

// d softplus(l) / dl = sigmoid(l).
template <typename T>
PYGAN_HD T bce_fake_grad(T l) {
  return sigmoid_pair(l).pos;
}

// Generator, non-saturating: -log D(G(z)) = softplus(-l); gradient -sigmoid(-l).
// Generator, saturating:      log(1 - D(G(z))) = -softplus(l); gradient -sigmoid(l).
template <typename T>
PYGAN_HD TermAndProb<T> generator_term(T l, bool saturating) {
  const T e = exp_(-abs_(l));
  const T shared = log1p_unit(e);
  const T term = saturating ? -(max_(l, T(0)) + shared) : max_(-l, T(0)) + shared;
  return {term, sigmoid_pair_from_exp(l, e).pos};
}

template <typename T>
PYGAN_HD T generator_grad(T l, bool saturating) {
  const SigmoidPair<T> s = sigmoid_pair(l);
  return saturating ? -s.pos : -s.neg;
}

// ---- losses on raw scores (hinge, least squares, Wasserstein, relativistic) ----
//
// `t` is the side's target: the hinge's margin point (1 for reals, -1 for fakes) or the least
// squares' target (LSGAN's b for reals, a for fakes, c for G). Wasserstein's terms are linear:
// -l on reals and l on fakes (G: -l), so their gradients are the constants -1 and 1.

// hinge on reals: relu(t - l); d/dl = -1 where l < t, else 0 (relu'(0) = 0, as in torch).
template <typename T>
PYGAN_HD T hinge_real(T l, T t) { return max_(t - l, T(0)); }
template <typename T>
PYGAN_HD T hinge_real_grad(T l, T t) { return select_pos(t - l, T(-1), T(0)); }

// hinge on fakes: relu(l - t); d/dl = 1 where l > t, else 0.
template <typename T>
PYGAN_HD T hinge_fake(T l, T t) { return max_(l - t, T(0)); }
template <typename T>
PYGAN_HD T hinge_fake_grad(T l, T t) { return select_pos(l - t, T(1), T(0)); }

// least squares: 0.5 (l - t)^2; d/dl = l - t.
template <typename T>
PYGAN_HD T squared_error(T l, T t) {
  const T d = l - t;
  return T(0.5) * d * d;
}
template <typename T>
PYGAN_HD T squared_error_grad(T l, T t) { return l - t; }

// relativistic pair (RpGAN): softplus(f - r), finite for any finite pair; d/df = sigmoid(f - r)
// and d/dr = -sigmoid(f - r).
template <typename T>
PYGAN_HD T relativistic_term(T r, T f) { return softplus(f - r); }
template <typename T>
PYGAN_HD T relativistic_grad_fake(T r, T f) { return sigmoid_pair(f - r).pos; }

// softplus(x) for a sum of many: softplus(x) = linear + log(factor), factor = 1 + e rounded in
// (1, 2] and linear = max(x, 0) + (e - (factor - 1)), the rounding of 1 + e (exact, Sterbenz) as
// the first-order term of log((1 + e) / factor). A sum takes the log of a product of factors once
// per run of kSoftplusFactorRun of them (below 2^16), not a log and a division per element; where
// 1 + e rounds to 1 the whole e goes to `linear`, so tiny terms are not lost.
template <typename T>
struct SoftplusFactors {
  T linear;
  T factor;
};
constexpr int kSoftplusFactorRun = 16;
template <typename T>
PYGAN_HD SoftplusFactors<T> softplus_factors(T x) {
  const T e = exp_(-abs_(x));
  const T u = T(1) + e;
  return {max_(x, T(0)) + (e - (u - T(1))), u};
}

// ---- the gradient-norm penalty (R1, R2, WGAN-GP) ----
//
// Per sample, with s = ||g||^2 and n = ||g|| = sqrt(s): the term (n - c)^2, which is s itself for
// c = 0 (R1 / R2: no square root, exact at g = 0). Its gradient is coeff * g with coeff =
// 2 (n - c) / n, 2 for c = 0; at n = 0 with c > 0 the norm has no gradient and coeff is 0 (as
// torch.linalg.vector_norm's backward takes it).
template <typename S>
PYGAN_HD S penalty_term(S squared_norm, S norm, S center) {
  if (center == S(0)) return squared_norm;
  const S d = norm - center;
  return d * d;
}

template <typename S>
PYGAN_HD S penalty_coeff(S norm, S center) {
  if (center == S(0)) return S(2);
  return norm > S(0) ? S(2) * (norm - center) / norm : S(0);
}

// ---- LeakyReLU with gain ----

// gain * leaky_relu(v): branch-free, max + slope * min.
template <typename T>
PYGAN_HD T leaky_relu(T v, T slope, T gain) {
  return gain * (max_(v, T(0)) + slope * min_(v, T(0)));
}

// d out / d v, read from the output: with gain > 0, out > 0 exactly where v > 0, so the
// backward keeps only the output (no input, no mask).
template <typename T>
PYGAN_HD T leaky_relu_grad_from_output(T out, T slope, T gain) {
  return select_pos(out, gain, gain * slope);
}

// ---- BatchNorm (training-mode apply) + LeakyReLU ----
//
// Per channel, with the batch statistics mean and invstd = 1 / sqrt(var + eps):
//   z = (x - mean) * scale + bias,   scale = weight * invstd,   y = leaky_relu(z).
// Subtracting the mean first makes a zero-variance channel (every x == mean, exactly: the
// statistics passes give such a channel its exact mean) normalise to exactly 0, so z == bias for
// every value and the activation's gradient is the same across the channel: at z == 0 it is
// negative_slope (0 for ReLU), as in torch's leaky_relu. The folded form x * scale + shift
// leaves rounding noise around bias whose sign picks the gradient value by value.

template <typename T>
PYGAN_HD T bn_scale(T invstd, T weight) {
  return weight * invstd;
}

template <typename T>
PYGAN_HD T bn_pre_activation(T x, T mean, T scale, T bias) {
  return (x - mean) * scale + bias;
}

template <typename T>
PYGAN_HD T bn_leaky_relu(T x, T mean, T scale, T bias, T slope) {
  return leaky_relu(bn_pre_activation(x, mean, scale, bias), slope, T(1));
}

// d y / d z times grad_y, from the recomputed pre-activation (any slope sign works).
template <typename T>
PYGAN_HD T bn_leaky_relu_dz(T grad_y, T x, T mean, T scale, T bias, T slope) {
  return grad_y * select_pos(bn_pre_activation(x, mean, scale, bias), T(1), slope);
}

// With S1 = sum(dz) and S2 = sum(dz * (x - mean)) over the channel's M values, the input
// gradient of batch-statistics normalisation is
//   dx = scale * (dz - S1 / M - (x - mean) * invstd^2 * S2 / M) = a * dz + b * (x - mean) + c.
// b multiplies x - mean, not x: b * x + (c - b * mean) cancels two large terms when the mean is
// large next to the spread (an error of about |b * mean| * ulp).
template <typename T>
struct BnGradCoeffs {
  T a, b, c;
};

template <typename T>
PYGAN_HD BnGradCoeffs<T> bn_grad_coeffs(T invstd, T scale, T sum_dz, T sum_dz_xc, T count) {
  return {scale, -scale * invstd * invstd * sum_dz_xc / count, -scale * sum_dz / count};
}

template <typename T>
PYGAN_HD T bn_grad_input(T dz, T x, T mean, BnGradCoeffs<T> k) {
  return k.a * dz + k.b * (x - mean) + k.c;
}

// ---- DiffAugment (Zhao et al. 2020): color, translation and cutout of one image in one map ----
// Color on sample values v_c at one pixel, with brightness offset b, saturation factor s and
// contrast factor k (identity: 0, 1, 1), in DiffAugment's order:
//   brightness  v + b;  saturation  (v - mean_c) s + mean_c;  contrast  (v - mean_chw) k + mean_chw.
// Saturation keeps each pixel's channel mean and brightness moves every mean by b, so the
// contrast mean is the input's mean M + b and the whole map is affine in v:
//   out_c = k s v_c + (k - k s) / C * sum_c v_c + (1 - k) M + b = scale v_c + mix sum_c v_c + offset.
// Its adjoint has the same scale and mix; the mean term becomes a constant spread over all C H W
// inputs: grad_c = scale g_c + mix sum_c g_c + (1 - k) S / (C H W), S the sum of g where the
// image was kept (translation and cutout zero the rest, so those positions get that constant only).
template <typename T>
struct AugmentCoeffs {
  T scale, mix, offset;  // out = scale * v + mix * sum_c(v) + offset
  T fill;                // value of positions with no source (shifted out or cut out)
};

template <typename T>
PYGAN_HD AugmentCoeffs<T> augment_coeffs(T brightness, T saturation, T contrast, T channels, T mean) {
  const T scale = contrast * saturation;
  return {scale, (contrast - scale) / channels, (T(1) - contrast) * mean + brightness, T(0)};
}

template <typename T>
PYGAN_HD AugmentCoeffs<T> augment_adjoint_coeffs(T saturation, T contrast, T channels, T count, T kept_sum) {
  const T scale = contrast * saturation;
  const T spread = (T(1) - contrast) * kept_sum / count;
  return {scale, (contrast - scale) / channels, spread, spread};
}

template <typename T, typename S>
PYGAN_HD T augment_value(T v, T channel_sum, S scale, S mix, S offset) {
  return v * T(scale) + channel_sum * T(mix) + T(offset);
}

// The image geometry of one sample: out(y, x) = in(y + dy, x + dx) where that lies inside the
// image and (y, x) is outside the cut box [y0, y1) x [x0, x1); else `fill`. Shifts are clamped
// to [-size, size] and boxes to the image first, so any integers give a defined result.
struct AugmentGeometry {
  long long dy, dx, y0, y1, x0, x1;
};

PYGAN_HD long long clamp_ll(long long v, long long lo, long long hi) { return v < lo ? lo : (v > hi ? hi : v); }

PYGAN_HD AugmentGeometry augment_geometry(const long long* g, long long height, long long width) {
  return {clamp_ll(g[0], -height, height), clamp_ll(g[1], -width, width), clamp_ll(g[2], 0, height),
          clamp_ll(g[3], 0, height),       clamp_ll(g[4], 0, width),      clamp_ll(g[5], 0, width)};
}

// The adjoint's geometry: grad(p) reads g(p - d), and is cut where p - d was.
PYGAN_HD AugmentGeometry augment_adjoint_geometry(AugmentGeometry f, long long height, long long width) {
  return {-f.dy, -f.dx, clamp_ll(f.y0 + f.dy, 0, height), clamp_ll(f.y1 + f.dy, 0, height),
          clamp_ll(f.x0 + f.dx, 0, width), clamp_ll(f.x1 + f.dx, 0, width)};
}

// Whether output (y, x) reads a source value under `g`.
PYGAN_HD bool augment_keeps(const AugmentGeometry& g, long long y, long long x, long long height, long long width) {
  const long long sy = y + g.dy, sx = x + g.dx;
  const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
  const bool cut = y >= g.y0 && y < g.y1 && x >= g.x0 && x < g.x1;
  return inside && !cut;
}

}  // namespace PYGAN_MATH_NS
