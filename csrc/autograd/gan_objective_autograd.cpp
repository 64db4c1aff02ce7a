// Autograd for the objectives after 2014, in C++ (as the BCE losses'): first derivatives run our
// backward kernels; second derivatives (through the backward ops) are composed from ATen ops.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <string>

#include "../checks.h"
#include "op_calls.h"

namespace pygan::autograd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

constexpr const char* kDOp = "pygan.discriminator_objective_backward";
constexpr const char* kGOp = "pygan.generator_objective_backward";

// 1 / count for a mean (a SymInt, so tracing with symbolic shapes works), else 1.
at::Tensor reduce_scale(const at::Tensor& t, Reduction reduction, const at::Tensor& like) {
  return reduction == Reduction::kMean ? t / c10::Scalar(like.sym_numel()) : t;
}

// d term / d score of a separable side (real_side: the term D minimises on reals).
at::Tensor first_derivative(ObjectiveKind kind, bool real_side, const at::Tensor& l, double t) {
  switch (kind) {
    case ObjectiveKind::kHinge:
      return real_side ? -(l < t).to(l.scalar_type()) : (l > t).to(l.scalar_type());
    case ObjectiveKind::kLeastSquares:
      return l - t;
    default:
      return at::full_like(l, real_side ? -1.0 : 1.0);
  }
}

// d^2 term / d score^2 of a separable side: 1 for least squares, 0 for the piecewise-linear ones.
at::Tensor second_derivative(ObjectiveKind kind, const at::Tensor& l) {
  return kind == ObjectiveKind::kLeastSquares ? at::ones_like(l) : at::zeros_like(l);
}

at::Tensor add_defined(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a + b;
}

class DiscriminatorObjectiveBackward : public Function<DiscriminatorObjectiveBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& real,
                               const at::Tensor& fake, const std::string& kind, double real_target,
                               double fake_target, const std::string& reduction) {
    at::Tensor grad_real, grad_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::discriminator_objective_backward", calls::DObjBwdSig);
      std::tie(grad_real, grad_fake) = op.call(grad, real, fake, kind, real_target, fake_target, reduction);
    }
    ctx->save_for_backward({grad, real, fake});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["real_target"] = real_target;
    ctx->saved_data["fake_target"] = fake_target;
    ctx->saved_data["reduction"] = reduction;
    return {grad_real, grad_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& real = saved[1];
    const at::Tensor& fake = saved[2];
    const auto kind = parse_objective_kind(ctx->saved_data["kind"].toStringRef(), kDOp, false);
    const auto reduction = parse_reduced(ctx->saved_data["reduction"].toStringRef(), kDOp);
    const at::Tensor gs = g.reshape({});
    at::Tensor d_grad, d_real, d_fake;
    if (kind == ObjectiveKind::kRelativistic) {
      // grad_fake = s g sigmoid(f - r) = -grad_real: both depend on h = gg_fake - gg_real.
      at::Tensor h = gg[1].defined() ? gg[1] : at::Tensor();
      if (gg[0].defined()) h = h.defined() ? h - gg[0] : -gg[0];
      if (h.defined()) {
        const at::Tensor sig = at::sigmoid(fake - real);
        d_grad = reduce_scale(sig * h, reduction, real).sum();
        d_fake = reduce_scale(gs * sig * (1.0 - sig) * h, reduction, real);
        d_real = -d_fake;
      }
    } else {
      const double tr = ctx->saved_data["real_target"].toDouble();
      const double tf = ctx->saved_data["fake_target"].toDouble();
      if (gg[0].defined()) {
        d_grad = reduce_scale(gg[0] * first_derivative(kind, true, real, tr), reduction, real).sum();
        d_real = reduce_scale(gg[0] * gs * second_derivative(kind, real), reduction, real);
      }
      if (gg[1].defined()) {
        d_grad = add_defined(d_grad, reduce_scale(gg[1] * first_derivative(kind, false, fake, tf), reduction, fake).sum());
        d_fake = reduce_scale(gg[1] * gs * second_derivative(kind, fake), reduction, fake);
      }
    }
    if (d_grad.defined()) d_grad = d_grad.reshape_symint(g.sym_sizes());
    return {d_grad, d_real, d_fake, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class DiscriminatorObjective : public Function<DiscriminatorObjective> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& real, const at::Tensor& fake,
                               const std::string& kind, double real_target, double fake_target,
                               const std::string& reduction) {
    at::Tensor loss, d_real, d_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::discriminator_objective", calls::DObjSig);
      std::tie(loss, d_real, d_fake) = op.call(real, fake, kind, real_target, fake_target, reduction);
    }
    ctx->save_for_backward({real, fake});
    ctx->mark_non_differentiable({d_real, d_fake});
    ctx->set_materialize_grads(false);  // no zero grads for the logging outputs
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["real_target"] = real_target;
    ctx->saved_data["fake_target"] = fake_target;
    ctx->saved_data["reduction"] = reduction;
    return {loss, d_real, d_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list none(6);
    if (!grads[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    PYGAN_OP_HANDLE(op, "pygan::discriminator_objective_backward", calls::DObjBwdSig);
    auto [grad_real, grad_fake] =
        op.call(grads[0], saved[0], saved[1], ctx->saved_data["kind"].toStringRef(),
                ctx->saved_data["real_target"].toDouble(), ctx->saved_data["fake_target"].toDouble(),
                ctx->saved_data["reduction"].toStringRef());
    return {grad_real, grad_fake, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class GeneratorObjectiveBackward : public Function<GeneratorObjectiveBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& fake,
                               const std::string& kind, double target, const std::string& reduction) {
    at::Tensor grad_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::generator_objective_backward", calls::GObjBwdSig);
      grad_fake = op.call(grad, fake, kind, target, reduction);
    }
    ctx->save_for_backward({grad, fake});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["target"] = target;
    ctx->saved_data["reduction"] = reduction;
    return {grad_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const variable_list none(5);
    if (!gg[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& fake = saved[1];
    const auto kind = parse_objective_kind(ctx->saved_data["kind"].toStringRef(), kGOp, true);
    const auto reduction = parse_reduced(ctx->saved_data["reduction"].toStringRef(), kGOp);
    const double t = ctx->saved_data["target"].toDouble();
    // G's term: -l (hinge, Wasserstein) or 0.5 (l - t)^2; first derivative -1 or l - t.
    const at::Tensor first = kind == ObjectiveKind::kLeastSquares ? fake - t : at::full_like(fake, -1.0);
    at::Tensor d_grad = reduce_scale(gg[0] * first, reduction, fake).sum().reshape_symint(g.sym_sizes());
    at::Tensor d_fake = reduce_scale(gg[0] * g.reshape({}) * second_derivative(kind, fake), reduction, fake);
    return {d_grad, d_fake, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class GeneratorObjective : public Function<GeneratorObjective> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& fake, const std::string& kind,
                               double target, const std::string& reduction) {
    at::Tensor loss, d_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::generator_objective", calls::GObjSig);
      std::tie(loss, d_fake) = op.call(fake, kind, target, reduction);
    }
    ctx->save_for_backward({fake});
    ctx->mark_non_differentiable({d_fake});
    ctx->set_materialize_grads(false);
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["target"] = target;
    ctx->saved_data["reduction"] = reduction;
    return {loss, d_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list none(4);
    if (!grads[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    PYGAN_OP_HANDLE(op, "pygan::generator_objective_backward", calls::GObjBwdSig);
    at::Tensor grad_fake = op.call(grads[0], saved[0], ctx->saved_data["kind"].toStringRef(),
                                   ctx->saved_data["target"].toDouble(),
                                   ctx->saved_data["reduction"].toStringRef());
    return {grad_fake, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_objective(
    const at::Tensor& real, const at::Tensor& fake, c10::string_view kind, double real_target,
    double fake_target, c10::string_view reduction) {
  auto out = DiscriminatorObjective::apply(real, fake, std::string(kind), real_target, fake_target,
                                           std::string(reduction));
  return {out[0], out[1], out[2]};
}

std::tuple<at::Tensor, at::Tensor> discriminator_objective_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, c10::string_view kind,
    double real_target, double fake_target, c10::string_view reduction) {
  auto out = DiscriminatorObjectiveBackward::apply(grad, real, fake, std::string(kind), real_target,
                                                   fake_target, std::string(reduction));
  return {out[0], out[1]};
}

std::tuple<at::Tensor, at::Tensor> generator_objective(const at::Tensor& fake, c10::string_view kind,
                                                       double target, c10::string_view reduction) {
  auto out = GeneratorObjective::apply(fake, std::string(kind), target, std::string(reduction));
  return {out[0], out[1]};
}

at::Tensor generator_objective_backward(const at::Tensor& grad, const at::Tensor& fake, c10::string_view kind,
                                        double target, c10::string_view reduction) {
  return GeneratorObjectiveBackward::apply(grad, fake, std::string(kind), target, std::string(reduction))[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("discriminator_objective", &discriminator_objective);
  m.impl("discriminator_objective_backward", &discriminator_objective_backward);
  m.impl("generator_objective", &generator_objective);
  m.impl("generator_objective_backward", &generator_objective_backward);
}

}  // namespace pygan::autograd
