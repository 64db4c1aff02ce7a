// The reduction and gradient loops every loss kernel shares, compiled with the kernel file that
// includes it (once per ISA, see cpu/isa.h).
#pragma once

#include <ATen/Parallel.h>

#include <vector>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace loss_loops {


// Reductions run over fixed chunks summed in chunk order, so a loss does not depend on the
// number of threads (same seed, same numbers).
constexpr int64_t kChunk = 1 << 14;
constexpr int64_t kElementwiseGrain = 1 << 15;

struct Sums {
  double term = 0.0;
  double prob = 0.0;
};

enum class Store { kNothing, kWrite, kAdd };

// Sums fn(x).term and fn(x).prob over x[begin, end); optionally writes (or adds) each term to out.
template <Store store, typename scalar_t, typename Fn>
Sums chunk_terms(const scalar_t* x, scalar_t* out, int64_t begin, int64_t end, const Fn& fn) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  // kChains independent accumulators per sum: one add chain would wait out the add's latency on
  // every vector, which bounds cheap terms (hinge, least squares, Wasserstein) well below bandwidth.
  constexpr int kChains = 4;
  std::array<V, kChains * L::count> acc_term, acc_prob;
  acc_term.fill(V(opmath_t(0)));
  acc_prob.fill(V(opmath_t(0)));
  const auto visit = [&](int64_t at, int chain) {
    const auto v = L::load(x + at);
    std::array<V, L::count> terms;
    for (int k = 0; k < L::count; ++k) {
      const auto tp = fn(v[k]);
      acc_term[chain * L::count + k] = acc_term[chain * L::count + k] + tp.term;
      acc_prob[chain * L::count + k] = acc_prob[chain * L::count + k] + tp.prob;
      terms[k] = tp.term;
    }
    if constexpr (store == Store::kWrite) {
      L::store(out + at, terms);
    } else if constexpr (store == Store::kAdd) {
      auto o = L::load(out + at);
      for (int k = 0; k < L::count; ++k) o[k] = o[k] + terms[k];
      L::store(out + at, o);
    }
  };
  int64_t i = begin;
  for (; i + kChains * L::step <= end; i += kChains * L::step) {
#pragma GCC unroll 4
    for (int c = 0; c < kChains; ++c) visit(i + c * L::step, c);
  }
  for (; i + L::step <= end; i += L::step) visit(i, 0);
  V total_term = acc_term[0], total_prob = acc_prob[0];
  for (size_t a = 1; a < acc_term.size(); ++a) {
    total_term = total_term + acc_term[a];
    total_prob = total_prob + acc_prob[a];
  }
  Sums s{horizontal_sum(total_term), horizontal_sum(total_prob)};
  for (; i < end; ++i) {
    const auto tp = fn(static_cast<opmath_t>(x[i]));
    s.term += tp.term;
    s.prob += tp.prob;
    if constexpr (store == Store::kWrite) {
      out[i] = static_cast<scalar_t>(tp.term);
    } else if constexpr (store == Store::kAdd) {
      out[i] = static_cast<scalar_t>(static_cast<opmath_t>(out[i]) + tp.term);
    }
  }
  return s;
}

template <Store store, typename scalar_t, typename Fn>
Sums sum_terms(const scalar_t* x, scalar_t* out, int64_t n, const Fn& fn) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return chunk_terms<store>(x, out, 0, n, fn);
  std::vector<Sums> partial(chunks);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      partial[c] = chunk_terms<store>(x, out, c * kChunk, std::min(n, (c + 1) * kChunk), fn);
    }
  });
  Sums total;
  for (const auto& p : partial) {
    total.term += p.term;
    total.prob += p.prob;
  }
  return total;
}

// grad[i] = scale * g[i or 0] * dfn(x[i]) over all of x.
template <typename scalar_t, typename GradFn>
void scaled_grad(const scalar_t* x, const scalar_t* g, bool elementwise_g, double scale,
                 scalar_t* out, int64_t n, const GradFn& dfn) {
  using opmath_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    if (elementwise_g) {
      map_binary(x, g, out, begin, end, [&](auto l, auto gi) {
        using T = decltype(l);
        return gi * dfn(l) * T(static_cast<opmath_t>(scale));
      });
    } else {
      const opmath_t k = static_cast<opmath_t>(static_cast<double>(g[0]) * scale);
      map_unary(x, out, begin, end, [&](auto l) {
        using T = decltype(l);
        return dfn(l) * T(k);
      });
    }
  });
}

inline double reduce_scale(Reduction reduction, int64_t n) {
  return reduction == Reduction::kMean ? 1.0 / static_cast<double>(n) : 1.0;
}

template <typename scalar_t>
inline void write_scalar(at::Tensor& t, double v) {
  *t.data_ptr<scalar_t>() = static_cast<scalar_t>(v);
}

}  // namespace loss_loops
}  // namespace pygan::cpu::PYGAN_CPU_ISA
