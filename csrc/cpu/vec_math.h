// at::vec overloads of the primitives used by pygan_math.h, plus load/store helpers that widen
// float16/bfloat16 to float. Included only by the per-ISA kernel files (cpu/*_kernel.cpp).
#pragma once

#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <array>

#ifndef PYGAN_CPU_ISA
#error "compile cpu/*_kernel.cpp with -DPYGAN_CPU_ISA=isa_default|isa_avx2|isa_avx512"
#endif
#define PYGAN_MATH_NS pygan::cpu::PYGAN_CPU_ISA::math

namespace PYGAN_MATH_NS {

template <typename S>
using Vec = at::vec::Vectorized<S>;

template <typename S>
inline Vec<S> exp_(const Vec<S>& a) { return a.exp(); }
template <typename S>
inline Vec<S> log_(const Vec<S>& a) { return a.log(); }
template <typename S>
inline Vec<S> abs_(const Vec<S>& a) { return a.abs(); }
template <typename S>
inline Vec<S> max_(const Vec<S>& a, const Vec<S>& b) { return at::vec::maximum(a, b); }
template <typename S>
inline Vec<S> min_(const Vec<S>& a, const Vec<S>& b) { return at::vec::minimum(a, b); }
template <typename S>
inline Vec<S> select_pos(const Vec<S>& x, const Vec<S>& when_pos, const Vec<S>& otherwise) {
  return Vec<S>::blendv(otherwise, when_pos, x > Vec<S>(S(0)));
}
template <typename S>
inline Vec<S> select_nonneg(const Vec<S>& x, const Vec<S>& when_nonneg, const Vec<S>& otherwise) {
  return Vec<S>::blendv(otherwise, when_nonneg, x >= Vec<S>(S(0)));
}

}  // namespace PYGAN_MATH_NS

#include "../pygan_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {

// Loads `Lanes<scalar_t>::step` elements as `count` vectors of the math type (float for the
// 16-bit types, which widen one register into two), and stores them back.
template <typename scalar_t>
struct Lanes {
  using opmath_t = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<opmath_t>;
  static constexpr bool widened = !std::is_same_v<scalar_t, opmath_t>;
  static constexpr int count = widened ? 2 : 1;
  static constexpr int64_t step = at::vec::Vectorized<scalar_t>::size();

  static std::array<V, count> load(const scalar_t* p) {
    if constexpr (widened) {
      auto [lo, hi] = at::vec::convert_to_float<scalar_t>(at::vec::Vectorized<scalar_t>::loadu(p));
      return {lo, hi};
    } else {
      return {V::loadu(p)};
    }
  }

  static void store(scalar_t* p, const std::array<V, count>& v) {
    if constexpr (widened) {
      at::vec::convert_from_float<scalar_t>(v[0], v[1]).store(p);
    } else {
      v[0].store(p);
    }
  }

  // For the 16-bit types, half a step (V::size() elements, one math vector) at a time, so that
  // rows shorter than a full step still run vectorised.
  static V load_half(const scalar_t* p) {
    auto [lo, hi] = at::vec::convert_to_float<scalar_t>(
        at::vec::Vectorized<scalar_t>::loadu(p, V::size()));
    (void)hi;
    return lo;
  }

  static void store_half(scalar_t* p, const V& v) {
    at::vec::convert_from_float<scalar_t>(v, V(opmath_t(0))).store(p, V::size());
  }
};

// The sum of a vector's lanes, in lane order, in double.
template <typename V>
double horizontal_sum(const V& v) {
  typename V::value_type buf[V::size()];
  v.store(buf);
  double s = 0.0;
  for (int64_t k = 0; k < V::size(); ++k) s += buf[k];
  return s;
}

// Calls f(x) for every element of [begin, end), with x a math-type vector where a whole one fits
// and a scalar in the tail. For reductions; f accumulates.
template <typename scalar_t, typename F>
inline void visit_unary(const scalar_t* in, int64_t begin, int64_t end, const F& f) {
  using L = Lanes<scalar_t>;
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    for (const auto& v : L::load(in + i)) f(v);
  }
  if constexpr (L::widened) {
    if (i + L::V::size() <= end) {
      f(L::load_half(in + i));
      i += L::V::size();
    }
  }
  for (; i < end; ++i) f(static_cast<typename L::opmath_t>(in[i]));
}

// As visit_unary, over two arrays at once: f(a[i], b[i]).
template <typename scalar_t, typename F>
inline void visit_binary(const scalar_t* a, const scalar_t* b, int64_t begin, int64_t end, const F& f) {
  using L = Lanes<scalar_t>;
  using opmath_t = typename L::opmath_t;
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    const auto va = L::load(a + i);
    const auto vb = L::load(b + i);
    for (int k = 0; k < L::count; ++k) f(va[k], vb[k]);
  }
  if constexpr (L::widened) {
    if (i + L::V::size() <= end) {
      f(L::load_half(a + i), L::load_half(b + i));
      i += L::V::size();
    }
  }
  for (; i < end; ++i) f(static_cast<opmath_t>(a[i]), static_cast<opmath_t>(b[i]));
}

// Applies out[i] = f(in[i]) over [begin, end), vectorised with a scalar tail. f is generic over
// the math type (scalar or vector), so one lambda serves both.
template <typename scalar_t, typename F>
inline void map_unary(const scalar_t* in, scalar_t* out, int64_t begin, int64_t end, const F& f) {
  using L = Lanes<scalar_t>;
  using opmath_t = typename L::opmath_t;
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    auto v = L::load(in + i);
    for (auto& x : v) x = f(x);
    L::store(out + i, v);
  }
  if constexpr (L::widened) {
    if (i + L::V::size() <= end) {
      L::store_half(out + i, f(L::load_half(in + i)));
      i += L::V::size();
    }
  }
  for (; i < end; ++i) out[i] = static_cast<scalar_t>(f(static_cast<opmath_t>(in[i])));
}

// Applies out[i] = f(a[i], b[i]) over [begin, end).
template <typename scalar_t, typename F>
inline void map_binary(const scalar_t* a, const scalar_t* b, scalar_t* out, int64_t begin,
                       int64_t end, const F& f) {
  using L = Lanes<scalar_t>;
  using opmath_t = typename L::opmath_t;
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    auto va = L::load(a + i);
    const auto vb = L::load(b + i);
    for (int k = 0; k < L::count; ++k) va[k] = f(va[k], vb[k]);
    L::store(out + i, va);
  }
  if constexpr (L::widened) {
    if (i + L::V::size() <= end) {
      L::store_half(out + i, f(L::load_half(a + i), L::load_half(b + i)));
      i += L::V::size();
    }
  }
  for (; i < end; ++i) {
    out[i] = static_cast<scalar_t>(f(static_cast<opmath_t>(a[i]), static_cast<opmath_t>(b[i])));
  }
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
