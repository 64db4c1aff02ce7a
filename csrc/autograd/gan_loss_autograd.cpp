// Autograd for the GAN loss ops, in C++: a Python autograd layer would cost more than the whole
// fused op at GAN-logit sizes. First derivatives run our backward kernels; second derivatives
// (through the backward ops) are composed from differentiable ATen ops.
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

// Divides by the element count for a mean (as a SymInt, so tracing with symbolic shapes works).
at::Tensor reduce_scale(const at::Tensor& t, Reduction reduction, const at::Tensor& like) {
  return reduction == Reduction::kMean ? t / c10::Scalar(like.sym_numel()) : t;
}

// d(grad_real, grad_fake) for grad_real = s_r * g * ((1 - t) - sigmoid(-x)) and
// grad_fake = s_f * g * sigmoid(y).
class DiscriminatorLossBackward : public Function<DiscriminatorLossBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& real,
                               const at::Tensor& fake, double real_label,
                               const std::string& reduction) {
    at::Tensor grad_real, grad_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::discriminator_loss_backward", calls::DLossBwdSig);
      std::tie(grad_real, grad_fake) = op.call(grad, real, fake, real_label, reduction);
    }
    ctx->save_for_backward({grad, real, fake});
    ctx->saved_data["real_label"] = real_label;
    ctx->saved_data["reduction"] = reduction;
    return {grad_real, grad_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& real = saved[1];
    const at::Tensor& fake = saved[2];
    const double t = ctx->saved_data["real_label"].toDouble();
    const auto reduction = parse_reduction(ctx->saved_data["reduction"].toStringRef(),
                                           "pygan.discriminator_loss_backward");
    const bool elementwise = reduction == Reduction::kNone;
    const at::Tensor gs = elementwise ? g : g.reshape({});
    at::Tensor d_grad, d_real, d_fake;
    if (gg[0].defined()) {
      const at::Tensor sig = at::sigmoid(real);
      const at::Tensor contrib = reduce_scale(gg[0] * ((1.0 - t) - at::sigmoid(-real)), reduction, real);
      d_grad = elementwise ? contrib : contrib.sum();
      d_real = reduce_scale(gg[0] * gs * (sig * (1.0 - sig)), reduction, real);
    }
    if (gg[1].defined()) {
      const at::Tensor sig = at::sigmoid(fake);
      const at::Tensor contrib = reduce_scale(gg[1] * sig, reduction, fake);
      const at::Tensor part = elementwise ? contrib : contrib.sum();
      d_grad = d_grad.defined() ? d_grad + part : part;
      d_fake = reduce_scale(gg[1] * gs * (sig * (1.0 - sig)), reduction, fake);
    }
    if (d_grad.defined()) d_grad = d_grad.reshape_symint(g.sym_sizes());
    return {d_grad, d_real, d_fake, at::Tensor(), at::Tensor()};
  }
};

class DiscriminatorLoss : public Function<DiscriminatorLoss> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& real, const at::Tensor& fake,
                               double real_label, const std::string& reduction) {
    at::Tensor loss, d_real, d_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::discriminator_loss", calls::DLossSig);
      std::tie(loss, d_real, d_fake) = op.call(real, fake, real_label, reduction);
    }
    ctx->save_for_backward({real, fake});
    ctx->mark_non_differentiable({d_real, d_fake});
    ctx->set_materialize_grads(false);  // no zero grads for the logging outputs
    ctx->saved_data["real_label"] = real_label;
    ctx->saved_data["reduction"] = reduction;
    return {loss, d_real, d_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    PYGAN_OP_HANDLE(op, "pygan::discriminator_loss_backward", calls::DLossBwdSig);
    auto [grad_real, grad_fake] =
        op.call(grads[0], saved[0], saved[1], ctx->saved_data["real_label"].toDouble(),
                ctx->saved_data["reduction"].toStringRef());
    return {grad_real, grad_fake, at::Tensor(), at::Tensor()};
  }
};

// d grad_fake for grad_fake = s * g * (saturating ? -sigmoid(y) : -sigmoid(-y)).
class GeneratorLossBackward : public Function<GeneratorLossBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& fake,
                               bool saturating, const std::string& reduction) {
    at::Tensor grad_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::generator_loss_backward", calls::GLossBwdSig);
      grad_fake = op.call(grad, fake, saturating, reduction);
    }
    ctx->save_for_backward({grad, fake});
    ctx->saved_data["saturating"] = saturating;
    ctx->saved_data["reduction"] = reduction;
    return {grad_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& fake = saved[1];
    const bool saturating = ctx->saved_data["saturating"].toBool();
    const auto reduction = parse_reduction(ctx->saved_data["reduction"].toStringRef(),
                                           "pygan.generator_loss_backward");
    if (!gg[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const bool elementwise = reduction == Reduction::kNone;
    const at::Tensor sig = at::sigmoid(fake);
    const at::Tensor first = saturating ? -sig : -at::sigmoid(-fake);
    // Both variants have second derivative -+ sigmoid'(y) = sigmoid(y) * sigmoid(-y).
    const at::Tensor second = saturating ? -(sig * (1.0 - sig)) : sig * (1.0 - sig);
    const at::Tensor contrib = reduce_scale(gg[0] * first, reduction, fake);
    at::Tensor d_grad = (elementwise ? contrib : contrib.sum()).reshape_symint(g.sym_sizes());
    const at::Tensor gs = elementwise ? g : g.reshape({});
    return {d_grad, reduce_scale(gg[0] * gs * second, reduction, fake), at::Tensor(), at::Tensor()};
  }
};

class GeneratorLoss : public Function<GeneratorLoss> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& fake, bool saturating,
                               const std::string& reduction) {
    at::Tensor loss, d_fake;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::generator_loss", calls::GLossSig);
      std::tie(loss, d_fake) = op.call(fake, saturating, reduction);
    }
    ctx->save_for_backward({fake});
    ctx->mark_non_differentiable({d_fake});
    ctx->set_materialize_grads(false);
    ctx->saved_data["saturating"] = saturating;
    ctx->saved_data["reduction"] = reduction;
    return {loss, d_fake};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    PYGAN_OP_HANDLE(op, "pygan::generator_loss_backward", calls::GLossBwdSig);
    at::Tensor grad_fake = op.call(grads[0], saved[0], ctx->saved_data["saturating"].toBool(),
                                   ctx->saved_data["reduction"].toStringRef());
    return {grad_fake, at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_loss(const at::Tensor& real,
                                                                  const at::Tensor& fake,
                                                                  double real_label,
                                                                  c10::string_view reduction) {
  auto out = DiscriminatorLoss::apply(real, fake, real_label, std::string(reduction));
  return {out[0], out[1], out[2]};
}

std::tuple<at::Tensor, at::Tensor> discriminator_loss_backward(const at::Tensor& grad,
                                                               const at::Tensor& real,
                                                               const at::Tensor& fake,
                                                               double real_label,
                                                               c10::string_view reduction) {
  auto out = DiscriminatorLossBackward::apply(grad, real, fake, real_label, std::string(reduction));
  return {out[0], out[1]};
}

std::tuple<at::Tensor, at::Tensor> generator_loss(const at::Tensor& fake, bool saturating,
                                                  c10::string_view reduction) {
  auto out = GeneratorLoss::apply(fake, saturating, std::string(reduction));
  return {out[0], out[1]};
}

at::Tensor generator_loss_backward(const at::Tensor& grad, const at::Tensor& fake, bool saturating,
                                   c10::string_view reduction) {
  return GeneratorLossBackward::apply(grad, fake, saturating, std::string(reduction))[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("discriminator_loss", &discriminator_loss);
  m.impl("discriminator_loss_backward", &discriminator_loss_backward);
  m.impl("generator_loss", &generator_loss);
  m.impl("generator_loss_backward", &generator_loss_backward);
}

}  // namespace pygan::autograd
