// GAN loss kernels on logits, compiled once per ISA (see cpu/isa.h). Forward: one pass per
// logits tensor computes the loss terms and D = sigmoid(logit) together from one exp(-|l|).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <vector>

#include "kernels.h"
#include "vec_math.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
namespace {

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
  V acc_term(opmath_t(0));
  V acc_prob(opmath_t(0));
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    const auto v = L::load(x + i);
    std::array<V, L::count> terms;
    for (int k = 0; k < L::count; ++k) {
      const auto tp = fn(v[k]);
      acc_term = acc_term + tp.term;
      acc_prob = acc_prob + tp.prob;
      terms[k] = tp.term;
    }
    if constexpr (store == Store::kWrite) {
      L::store(out + i, terms);
    } else if constexpr (store == Store::kAdd) {
      auto o = L::load(out + i);
      for (int k = 0; k < L::count; ++k) o[k] = o[k] + terms[k];
      L::store(out + i, o);
    }
  }
  Sums s{horizontal_sum(acc_term), horizontal_sum(acc_prob)};
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

double reduce_scale(Reduction reduction, int64_t n) {
  return reduction == Reduction::kMean ? 1.0 / static_cast<double>(n) : 1.0;
}

template <typename scalar_t>
void write_scalar(at::Tensor& t, double v) {
  *t.data_ptr<scalar_t>() = static_cast<scalar_t>(v);
}

}  // namespace

void discriminator_loss_kernel(const at::Tensor& real, const at::Tensor& fake, double real_label,
                               Reduction reduction, at::Tensor& loss, at::Tensor& d_real,
                               at::Tensor& d_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_loss_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t one_minus_t = static_cast<opmath_t>(1.0 - real_label);
    const bool smoothed = real_label != 1.0;
    const auto real_fn = [&](auto l) {
      using T = decltype(l);
      return math::bce_real(l, T(one_minus_t), smoothed);
    };
    const auto fake_fn = [](auto l) { return math::bce_fake(l); };
    const scalar_t* r = real.const_data_ptr<scalar_t>();
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    const int64_t nr = real.numel();
    const int64_t nf = fake.numel();
    Sums sr;
    Sums sf;
    if (reduction == Reduction::kNone) {
      scalar_t* out = loss.data_ptr<scalar_t>();
      sr = sum_terms<Store::kWrite>(r, out, nr, real_fn);
      sf = sum_terms<Store::kAdd>(f, out, nf, fake_fn);
    } else {
      sr = sum_terms<Store::kNothing>(r, static_cast<scalar_t*>(nullptr), nr, real_fn);
      sf = sum_terms<Store::kNothing>(f, static_cast<scalar_t*>(nullptr), nf, fake_fn);
      const double value = reduction == Reduction::kMean
                               ? sr.term / static_cast<double>(nr) + sf.term / static_cast<double>(nf)
                               : sr.term + sf.term;
      write_scalar<scalar_t>(loss, value);
    }
    write_scalar<scalar_t>(d_real, sr.prob / static_cast<double>(nr));
    write_scalar<scalar_t>(d_fake, sf.prob / static_cast<double>(nf));
  });
}

void discriminator_loss_backward_kernel(const at::Tensor& grad, const at::Tensor& real,
                                        const at::Tensor& fake, double real_label,
                                        Reduction reduction, at::Tensor& grad_real,
                                        at::Tensor& grad_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_loss_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t one_minus_t = static_cast<opmath_t>(1.0 - real_label);
    const bool elementwise = reduction == Reduction::kNone;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    scaled_grad(real.const_data_ptr<scalar_t>(), g, elementwise,
                reduce_scale(reduction, real.numel()), grad_real.data_ptr<scalar_t>(),
                real.numel(), [&](auto l) {
                  using T = decltype(l);
                  return math::bce_real_grad(l, T(one_minus_t));
                });
    scaled_grad(fake.const_data_ptr<scalar_t>(), g, elementwise,
                reduce_scale(reduction, fake.numel()), grad_fake.data_ptr<scalar_t>(),
                fake.numel(), [](auto l) { return math::bce_fake_grad(l); });
  });
}

void generator_loss_kernel(const at::Tensor& fake, bool saturating, Reduction reduction,
                           at::Tensor& loss, at::Tensor& d_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_loss_cpu", [&] {
    const auto fn = [saturating](auto l) { return math::generator_term(l, saturating); };
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    const int64_t n = fake.numel();
    Sums s;
    if (reduction == Reduction::kNone) {
      s = sum_terms<Store::kWrite>(f, loss.data_ptr<scalar_t>(), n, fn);
    } else {
      s = sum_terms<Store::kNothing>(f, static_cast<scalar_t*>(nullptr), n, fn);
      write_scalar<scalar_t>(loss, s.term * reduce_scale(reduction, n));
    }
    write_scalar<scalar_t>(d_fake, s.prob / static_cast<double>(n));
  });
}

void generator_loss_backward_kernel(const at::Tensor& grad, const at::Tensor& fake,
                                    bool saturating, Reduction reduction, at::Tensor& grad_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_loss_backward_cpu", [&] {
    scaled_grad(fake.const_data_ptr<scalar_t>(), grad.const_data_ptr<scalar_t>(),
                reduction == Reduction::kNone, reduce_scale(reduction, fake.numel()),
                grad_fake.data_ptr<scalar_t>(), fake.numel(),
                [saturating](auto l) { return math::generator_grad(l, saturating); });
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
