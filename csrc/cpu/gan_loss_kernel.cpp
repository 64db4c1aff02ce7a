// GAN loss kernels on logits, compiled once per ISA (see cpu/isa.h). Forward: one pass per
// logits tensor computes the loss terms and D = sigmoid(logit) together from one exp(-|l|).
#include <ATen/Dispatch.h>

#include "loss_loops.h"

namespace pygan::cpu::PYGAN_CPU_ISA {
using namespace loss_loops;

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
