// Kernels of the objectives after 2014 (hinge, least squares, Wasserstein, relativistic) on raw
// scores, compiled once per ISA (see cpu/isa.h). Forward: one pass over each score tensor sums
// the loss terms and the scores (logged as means); backward: one pass writes each gradient.
#include <ATen/Dispatch.h>

#include "loss_loops.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
using namespace loss_loops;
namespace {

// A separable side's term, with the score itself as the logged value.
template <typename T>
math::TermAndProb<T> scored(T term, T l) {
  return {term, l};
}

// Calls fn(real_term_fn, fake_term_fn) with the kind's two per-side term functions (generic over
// scalar and vector math types) for real target tr and fake target tf.
template <typename opmath_t, typename Fn>
void with_separable_terms(ObjectiveKind kind, opmath_t tr, opmath_t tf, const Fn& fn) {
  switch (kind) {
    case ObjectiveKind::kHinge:
      fn([tr](auto l) { using T = decltype(l); return scored(math::hinge_real(l, T(tr)), l); },
         [tf](auto l) { using T = decltype(l); return scored(math::hinge_fake(l, T(tf)), l); });
      break;
    case ObjectiveKind::kLeastSquares:
      fn([tr](auto l) { using T = decltype(l); return scored(math::squared_error(l, T(tr)), l); },
         [tf](auto l) { using T = decltype(l); return scored(math::squared_error(l, T(tf)), l); });
      break;
    default:  // Wasserstein: D minimises D(G(z)) - D(x)
      fn([](auto l) { return scored(-l, l); }, [](auto l) { return scored(l, l); });
  }
}

// As with_separable_terms, for the gradients d term / d score.
template <typename opmath_t, typename Fn>
void with_separable_grads(ObjectiveKind kind, opmath_t tr, opmath_t tf, const Fn& fn) {
  switch (kind) {
    case ObjectiveKind::kHinge:
      fn([tr](auto l) { using T = decltype(l); return math::hinge_real_grad(l, T(tr)); },
         [tf](auto l) { using T = decltype(l); return math::hinge_fake_grad(l, T(tf)); });
      break;
    case ObjectiveKind::kLeastSquares:
      fn([tr](auto l) { using T = decltype(l); return math::squared_error_grad(l, T(tr)); },
         [tf](auto l) { using T = decltype(l); return math::squared_error_grad(l, T(tf)); });
      break;
    default:  // Wasserstein: the constants -1 and 1, whatever the score
      fn([](auto l) { using T = decltype(l); return T(-1); }, [](auto l) { using T = decltype(l); return T(1); });
  }
}

struct PairSums {
  double term = 0.0, real = 0.0, fake = 0.0;
};

// Sums softplus(f - r), r and f over [begin, end). The vector loop sums softplus as
// math::softplus_factors splits it: each lane multiplies up to kSoftplusFactorRun factors before
// one log, which makes the pass about twice as fast as a log and a division per pair.
template <typename scalar_t>
PairSums chunk_pair_terms(const scalar_t* r, const scalar_t* f, int64_t begin, int64_t end) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  V acc_term(opmath_t(0)), acc_real(opmath_t(0)), acc_fake(opmath_t(0));
  V product(opmath_t(1));
  int in_product = 0;
  int64_t i = begin;
  for (; i + L::step <= end; i += L::step) {
    const auto vr = L::load(r + i);
    const auto vf = L::load(f + i);
    for (int k = 0; k < L::count; ++k) {
      const auto split = math::softplus_factors(vf[k] - vr[k]);
      acc_term = acc_term + split.linear;
      product = product * split.factor;
      if (++in_product == math::kSoftplusFactorRun) {
        acc_term = acc_term + math::log_(product);
        product = V(opmath_t(1));
        in_product = 0;
      }
      acc_real = acc_real + vr[k];
      acc_fake = acc_fake + vf[k];
    }
  }
  if (in_product > 0) acc_term = acc_term + math::log_(product);
  PairSums s{horizontal_sum(acc_term), horizontal_sum(acc_real), horizontal_sum(acc_fake)};
  for (; i < end; ++i) {
    const opmath_t a = static_cast<opmath_t>(r[i]);
    const opmath_t b = static_cast<opmath_t>(f[i]);
    s.term += math::relativistic_term(a, b);
    s.real += a;
    s.fake += b;
  }
  return s;
}

// Fixed chunks summed in chunk order: the sums do not depend on the thread count.
template <typename scalar_t>
PairSums sum_pair_terms(const scalar_t* r, const scalar_t* f, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return chunk_pair_terms(r, f, 0, n);
  std::vector<PairSums> partial(chunks);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) partial[c] = chunk_pair_terms(r, f, c * kChunk, std::min(n, (c + 1) * kChunk));
  });
  PairSums total;
  for (const auto& p : partial) {
    total.term += p.term;
    total.real += p.real;
    total.fake += p.fake;
  }
  return total;
}

// grad_fake = k sigmoid(f - r), grad_real = -grad_fake, in one pass.
template <typename scalar_t>
void pair_grads(const scalar_t* r, const scalar_t* f, double k, scalar_t* grad_real, scalar_t* grad_fake,
                int64_t n) {
  using L = Lanes<scalar_t>;
  using V = typename L::V;
  using opmath_t = typename L::opmath_t;
  const opmath_t ks = static_cast<opmath_t>(k);
  at::parallel_for(0, n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + L::step <= end; i += L::step) {
      const auto vr = L::load(r + i);
      const auto vf = L::load(f + i);
      std::array<V, L::count> gf, gr;
      for (int c = 0; c < L::count; ++c) {
        gf[c] = math::relativistic_grad_fake(vr[c], vf[c]) * V(ks);
        gr[c] = V(opmath_t(0)) - gf[c];
      }
      L::store(grad_fake + i, gf);
      L::store(grad_real + i, gr);
    }
    for (; i < end; ++i) {
      const opmath_t d = math::relativistic_grad_fake(static_cast<opmath_t>(r[i]), static_cast<opmath_t>(f[i])) * ks;
      grad_fake[i] = static_cast<scalar_t>(d);
      grad_real[i] = static_cast<scalar_t>(-d);
    }
  });
}

// A mean of no values is NaN, as torch's.
double mean_of(double sum, int64_t n) { return sum / static_cast<double>(n); }

}  // namespace

void discriminator_objective_kernel(const at::Tensor& real, const at::Tensor& fake, ObjectiveKind kind,
                                    double real_target, double fake_target, Reduction reduction,
                                    at::Tensor& loss, at::Tensor& d_real, at::Tensor& d_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_objective_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const scalar_t* r = real.const_data_ptr<scalar_t>();
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    const int64_t nr = real.numel();
    const int64_t nf = fake.numel();
    if (kind == ObjectiveKind::kRelativistic) {
      const PairSums s = sum_pair_terms(r, f, nr);
      write_scalar<scalar_t>(loss, s.term * reduce_scale(reduction, nr));
      write_scalar<scalar_t>(d_real, mean_of(s.real, nr));
      write_scalar<scalar_t>(d_fake, mean_of(s.fake, nf));
      return;
    }
    with_separable_terms(kind, static_cast<opmath_t>(real_target), static_cast<opmath_t>(fake_target),
                         [&](const auto& real_fn, const auto& fake_fn) {
      const Sums sr = sum_terms<Store::kNothing>(r, static_cast<scalar_t*>(nullptr), nr, real_fn);
      const Sums sf = sum_terms<Store::kNothing>(f, static_cast<scalar_t*>(nullptr), nf, fake_fn);
      write_scalar<scalar_t>(loss, sr.term * reduce_scale(reduction, nr) + sf.term * reduce_scale(reduction, nf));
      write_scalar<scalar_t>(d_real, mean_of(sr.prob, nr));
      write_scalar<scalar_t>(d_fake, mean_of(sf.prob, nf));
    });
  });
}

void discriminator_objective_backward_kernel(const at::Tensor& grad, const at::Tensor& real,
                                             const at::Tensor& fake, ObjectiveKind kind, double real_target,
                                             double fake_target, Reduction reduction, at::Tensor& grad_real,
                                             at::Tensor& grad_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, real.scalar_type(),
                                  "pygan_discriminator_objective_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* r = real.const_data_ptr<scalar_t>();
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    const int64_t nr = real.numel();
    const int64_t nf = fake.numel();
    if (kind == ObjectiveKind::kRelativistic) {
      pair_grads(r, f, static_cast<double>(g[0]) * reduce_scale(reduction, nr), grad_real.data_ptr<scalar_t>(),
                 grad_fake.data_ptr<scalar_t>(), nr);
      return;
    }
    with_separable_grads(kind, static_cast<opmath_t>(real_target), static_cast<opmath_t>(fake_target),
                         [&](const auto& real_grad, const auto& fake_grad) {
      scaled_grad(r, g, false, reduce_scale(reduction, nr), grad_real.data_ptr<scalar_t>(), nr, real_grad);
      scaled_grad(f, g, false, reduce_scale(reduction, nf), grad_fake.data_ptr<scalar_t>(), nf, fake_grad);
    });
  });
}

void generator_objective_kernel(const at::Tensor& fake, ObjectiveKind kind, double target, Reduction reduction,
                                at::Tensor& loss, at::Tensor& d_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_objective_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t t = static_cast<opmath_t>(target);
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    const int64_t n = fake.numel();
    const auto finish = [&](const Sums& s) {
      write_scalar<scalar_t>(loss, s.term * reduce_scale(reduction, n));
      write_scalar<scalar_t>(d_fake, mean_of(s.prob, n));
    };
    if (kind == ObjectiveKind::kLeastSquares) {
      finish(sum_terms<Store::kNothing>(f, static_cast<scalar_t*>(nullptr), n, [t](auto l) {
        using T = decltype(l);
        return scored(math::squared_error(l, T(t)), l);
      }));
    } else {  // hinge and Wasserstein: G minimises -D(G(z))
      finish(sum_terms<Store::kNothing>(f, static_cast<scalar_t*>(nullptr), n,
                                        [](auto l) { return scored(-l, l); }));
    }
  });
}

void generator_objective_backward_kernel(const at::Tensor& grad, const at::Tensor& fake, ObjectiveKind kind,
                                         double target, Reduction reduction, at::Tensor& grad_fake) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, fake.scalar_type(),
                                  "pygan_generator_objective_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t t = static_cast<opmath_t>(target);
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* f = fake.const_data_ptr<scalar_t>();
    scalar_t* out = grad_fake.data_ptr<scalar_t>();
    const int64_t n = fake.numel();
    const double scale = reduce_scale(reduction, n);
    if (kind == ObjectiveKind::kLeastSquares) {
      scaled_grad(f, g, false, scale, out, n, [t](auto l) {
        using T = decltype(l);
        return math::squared_error_grad(l, T(t));
      });
    } else {
      scaled_grad(f, g, false, scale, out, n, [](auto l) {
        using T = decltype(l);
        (void)l;
        return T(-1);
      });
    }
  });
}

}  // namespace pygan::cpu::PYGAN_CPU_ISA
