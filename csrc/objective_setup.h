// Checks and output allocation of the objectives after 2014 (hinge, least squares, Wasserstein,
// relativistic) and of the gradient-norm penalty, shared by the CPU and CUDA op wrappers. The
// checks run in the order pygan/ops/_checks.py makes them, with the same words.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <string_view>

#include "allocate.h"
#include "checks.h"

namespace pygan {

inline void check_finite_target(double value, const char* op, const char* arg) {
  TORCH_CHECK(std::isfinite(value), op, ": ", arg, " must be a finite number, got ", value);
}

// The mean (or sum) of a loss is a one-value grad.
inline void check_reduced_grad(const at::Tensor& grad, const char* op, const char* arg) {
  check_floating(grad, op, arg);
  TORCH_CHECK(grad.numel() == 1, op, ": ", arg, " must hold one value (the loss is reduced), got shape ",
              grad.sizes());
}

struct DiscriminatorObjectiveSetup {
  ObjectiveKind kind;
  Reduction reduction;
  at::Tensor real, fake;            // contiguous
  at::Tensor loss, d_real, d_fake;  // outputs (0-dim)
};

inline DiscriminatorObjectiveSetup setup_discriminator_objective(
    const at::Tensor& real, const at::Tensor& fake, std::string_view kind, double real_target,
    double fake_target, std::string_view reduction, const char* op = "pygan.discriminator_objective") {
  const ObjectiveKind k = parse_objective_kind(kind, op, /*generator=*/false);
  const Reduction red = parse_reduced(reduction, op);
  check_floating(real, op, "real_logits");
  check_floating(fake, op, "fake_logits");
  check_same_device_dtype(real, "real_logits", fake, "fake_logits", op);
  check_finite_target(real_target, op, "real_target");
  check_finite_target(fake_target, op, "fake_target");
  TORCH_CHECK(k != ObjectiveKind::kRelativistic || real.sizes() == fake.sizes(), op,
              ": the relativistic objective pairs real_logits[i] with fake_logits[i], so they need the "
              "same shape, got ", real.sizes(), " and ", fake.sizes(),
              "; give D equal real and fake batches");
  const auto opts = real.options();
  return {k, red, real.contiguous(), fake.contiguous(), aten::empty({}, opts), aten::empty({}, opts),
          aten::empty({}, opts)};
}

struct DiscriminatorObjectiveBackwardSetup {
  ObjectiveKind kind;
  Reduction reduction;
  at::Tensor grad, real, fake;      // grad: one value; real, fake: contiguous
  at::Tensor grad_real, grad_fake;  // outputs
};

inline DiscriminatorObjectiveBackwardSetup setup_discriminator_objective_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, std::string_view kind,
    double real_target, double fake_target, std::string_view reduction) {
  constexpr const char* op = "pygan.discriminator_objective_backward";
  auto f = setup_discriminator_objective(real, fake, kind, real_target, fake_target, reduction, op);
  check_reduced_grad(grad, op, "grad_loss");
  check_same_device_dtype(real, "real_logits", grad, "grad_loss", op);
  return {f.kind, f.reduction, grad.contiguous(), f.real, f.fake, aten::empty_like(f.real),
          aten::empty_like(f.fake)};
}

struct GeneratorObjectiveSetup {
  ObjectiveKind kind;
  Reduction reduction;
  at::Tensor fake;          // contiguous
  at::Tensor loss, d_fake;  // outputs (0-dim)
};

inline GeneratorObjectiveSetup setup_generator_objective(const at::Tensor& fake, std::string_view kind,
                                                         double target, std::string_view reduction,
                                                         const char* op = "pygan.generator_objective") {
  const ObjectiveKind k = parse_objective_kind(kind, op, /*generator=*/true);
  const Reduction red = parse_reduced(reduction, op);
  check_floating(fake, op, "fake_logits");
  check_finite_target(target, op, "target");
  return {k, red, fake.contiguous(), aten::empty({}, fake.options()), aten::empty({}, fake.options())};
}

struct GeneratorObjectiveBackwardSetup {
  ObjectiveKind kind;
  Reduction reduction;
  at::Tensor grad, fake;
  at::Tensor grad_fake;
};

inline GeneratorObjectiveBackwardSetup setup_generator_objective_backward(
    const at::Tensor& grad, const at::Tensor& fake, std::string_view kind, double target,
    std::string_view reduction) {
  constexpr const char* op = "pygan.generator_objective_backward";
  auto f = setup_generator_objective(fake, kind, target, reduction, op);
  check_reduced_grad(grad, op, "grad_loss");
  check_same_device_dtype(fake, "fake_logits", grad, "grad_loss", op);
  return {f.kind, f.reduction, grad.contiguous(), f.fake, aten::empty_like(f.fake)};
}

// ---- gradient-norm penalty ----

// The per-sample norms (and the penalty's math) are float32, float64 for float64 input.
inline at::ScalarType penalty_math_dtype(const at::Tensor& grad) {
  return grad.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// `grad` with each sample's values in one contiguous block (the kernels walk sample i over
// [i * per_sample, (i + 1) * per_sample) in memory order): a dense tensor whose dim 0 is outermost,
// channels-last included, stays as it is; anything else is made contiguous.
inline at::Tensor sample_major(const at::Tensor& grad) {
  const int64_t n = grad.size(0);
  if (n > 0 && grad.numel() > 0 && grad.is_non_overlapping_and_dense() &&
      (n == 1 || grad.stride(0) == grad.numel() / n)) {
    return grad;
  }
  return grad.contiguous();
}

inline void check_penalty_args(const at::Tensor& grad, double center, std::string_view reduction,
                               const char* op) {
  parse_reduced(reduction, op);
  check_floating(grad, op, "grad");
  TORCH_CHECK(grad.dim() >= 1, op, ": grad must be (N, ...) with one sample per row of dim 0, got a 0-dim tensor");
  TORCH_CHECK(std::isfinite(center) && center >= 0.0, op,
              ": center must be a finite number >= 0 (0: R1/R2, 1: WGAN-GP), got ", center);
}

struct GradientPenaltySetup {
  Reduction reduction;
  at::Tensor grad;              // sample-major
  int64_t samples, per_sample;
  at::Tensor penalty, norms;    // outputs: 0-dim in grad's dtype; (N,) in the math dtype
};

inline GradientPenaltySetup setup_gradient_penalty(const at::Tensor& grad, double center,
                                                   std::string_view reduction) {
  constexpr const char* op = "pygan.gradient_penalty";
  check_penalty_args(grad, center, reduction, op);
  const int64_t n = grad.size(0);
  return {parse_reduced(reduction, op), sample_major(grad), n, n == 0 ? 0 : grad.numel() / n,
          aten::empty({}, grad.options()), aten::empty({n}, grad.options().dtype(penalty_math_dtype(grad)))};
}

struct GradientPenaltyBackwardSetup {
  Reduction reduction;
  at::Tensor grad_penalty, grad, norms;
  int64_t samples, per_sample;
  at::Tensor grad_input;  // output, laid out as `grad` (sample-major)
};

inline GradientPenaltyBackwardSetup setup_gradient_penalty_backward(const at::Tensor& grad_penalty,
                                                                    const at::Tensor& grad,
                                                                    const at::Tensor& norms, double center,
                                                                    std::string_view reduction) {
  constexpr const char* op = "pygan.gradient_penalty_backward";
  check_penalty_args(grad, center, reduction, op);
  check_floating(grad_penalty, op, "grad_penalty");
  check_same_device_dtype(grad, "grad", grad_penalty, "grad_penalty", op);
  TORCH_CHECK(grad_penalty.numel() == 1, op, ": grad_penalty must hold one value, got shape ",
              grad_penalty.sizes());
  const int64_t n = grad.size(0);
  const auto stats = penalty_math_dtype(grad);
  TORCH_CHECK(norms.defined() && norms.device() == grad.device() && norms.scalar_type() == stats &&
                  norms.dim() == 1 && norms.numel() == n,
              op, ": norms must be the forward's per-sample norms: 1-D ", stats, " of ", n, " values on ",
              grad.device(), ", got ", norms.defined() ? norms.scalar_type() : at::ScalarType::Undefined, " ",
              norms.defined() ? norms.sizes() : at::IntArrayRef{}, " on ",
              norms.defined() ? norms.device() : grad.device());
  at::Tensor g = sample_major(grad);
  return {parse_reduced(reduction, op), grad_penalty.contiguous(), g, norms.contiguous(), n,
          n == 0 ? 0 : grad.numel() / n, aten::empty_like(g)};
}

}  // namespace pygan
