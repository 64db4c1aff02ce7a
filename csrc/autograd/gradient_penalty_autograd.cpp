// Autograd for the gradient-norm penalty, in C++. The first derivative runs our backward kernel
// from the saved norms; the second (through the backward op) is composed from ATen ops:
// with grad_in_i = G s c(n_i) g_i, c(n) = 2 (n - center) / n (2 for center 0),
//   d/dG   = s sum_i c(n_i) <gg_i, g_i>
//   d/dg_i = G s (c(n_i) gg_i + 2 center <gg_i, g_i> g_i / n_i^3)   (0 where n_i = 0).
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

constexpr const char* kOp = "pygan.gradient_penalty_backward";

class GradientPenaltyBackward : public Function<GradientPenaltyBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad_penalty, const at::Tensor& grad,
                               const at::Tensor& norms, double center, const std::string& reduction) {
    at::Tensor grad_input;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::gradient_penalty_backward", calls::PenaltyBwdSig);
      grad_input = op.call(grad_penalty, grad, norms, center, reduction);
    }
    ctx->save_for_backward({grad_penalty, grad, norms});
    ctx->saved_data["center"] = center;
    ctx->saved_data["reduction"] = reduction;
    return {grad_input};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const variable_list none(5);
    if (!gg[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& gp = saved[0];
    const at::Tensor& grad = saved[1];
    const double center = ctx->saved_data["center"].toDouble();
    const auto reduction = parse_reduced(ctx->saved_data["reduction"].toStringRef(), kOp);
    const int64_t n = grad.size(0);
    // Per-sample views (N, per_sample) in the math dtype of the norms.
    // (flatten, not reshape to (n, -1): that cannot infer -1 for an empty batch)
    const auto per_sample = [](const at::Tensor& t) { return t.dim() == 1 ? t.unsqueeze(1) : t.flatten(1); };
    const at::Tensor g = per_sample(grad).to(saved[2].scalar_type());
    const at::Tensor h = per_sample(gg[0]).to(saved[2].scalar_type());
    const at::Tensor norms = saved[2].unsqueeze(1);
    const double s = reduction == Reduction::kMean ? 1.0 / static_cast<double>(n) : 1.0;
    const at::Tensor positive = norms > 0;
    const at::Tensor safe = at::where(positive, norms, at::ones_like(norms));
    const at::Tensor coeff = center == 0.0 ? at::full_like(norms, 2.0)
                                           : at::where(positive, 2.0 * (norms - center) / safe, at::zeros_like(norms));
    const at::Tensor dot = (h * g).sum(1, /*keepdim=*/true);
    const at::Tensor gps = gp.reshape({}).to(saved[2].scalar_type());
    at::Tensor d_grad_penalty = (s * (coeff * dot).sum()).to(gp.scalar_type()).reshape(gp.sizes());
    at::Tensor d_grad = coeff * h;
    if (center != 0.0) {
      d_grad = d_grad + at::where(positive, 2.0 * center * dot / (safe * safe * safe), at::zeros_like(norms)) * g;
    }
    d_grad = (gps * s * d_grad).to(grad.scalar_type()).reshape(grad.sizes());
    return {d_grad_penalty, d_grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class GradientPenalty : public Function<GradientPenalty> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, double center,
                               const std::string& reduction) {
    at::Tensor penalty, norms;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::gradient_penalty", calls::PenaltySig);
      std::tie(penalty, norms) = op.call(grad, center, reduction);
    }
    ctx->save_for_backward({grad, norms});
    ctx->mark_non_differentiable({norms});
    ctx->set_materialize_grads(false);
    ctx->saved_data["center"] = center;
    ctx->saved_data["reduction"] = reduction;
    return {penalty, norms};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list none(3);
    if (!grads[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad_input = GradientPenaltyBackward::apply(grads[0], saved[0], saved[1],
                                                           ctx->saved_data["center"].toDouble(),
                                                           ctx->saved_data["reduction"].toStringRef())[0];
    return {grad_input, at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> gradient_penalty(const at::Tensor& grad, double center,
                                                    c10::string_view reduction) {
  auto out = GradientPenalty::apply(grad, center, std::string(reduction));
  return {out[0], out[1]};
}

at::Tensor gradient_penalty_backward(const at::Tensor& grad_penalty, const at::Tensor& grad,
                                     const at::Tensor& norms, double center, c10::string_view reduction) {
  return GradientPenaltyBackward::apply(grad_penalty, grad, norms, center, std::string(reduction))[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("gradient_penalty", &gradient_penalty);
  m.impl("gradient_penalty_backward", &gradient_penalty_backward);
}

}  // namespace pygan::autograd
