// Autograd for the fused BatchNorm + LeakyReLU ops. The forward keeps the input and the batch
// statistics; the backward op computes all three gradients in two passes. Its own derivative
// (double backward: gradient penalties through D) recomputes the forward with ATen ops and
// differentiates that twice, which covers the statistics' dependence on the input.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <vector>

#include "op_calls.h"

namespace pygan::autograd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

at::Tensor defined_or_empty(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? *t : at::Tensor();
}

std::optional<at::Tensor> as_optional(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

// The op's forward in differentiable ATen ops (same formula as pygan.ops.reference).
at::Tensor reference_forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             double eps, double slope) {
  std::vector<int64_t> dims{0};
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const auto math_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor xf = x.to(math_type);
  auto [var, mean] = at::var_mean(xf, dims, /*correction=*/0, /*keepdim=*/true);
  at::Tensor z = (xf - mean) * at::rsqrt(var + eps);
  if (weight.defined()) z = z * weight.to(math_type).view(shape);
  if (bias.defined()) z = z + bias.to(math_type).view(shape);
  return at::leaky_relu(z, slope).to(x.scalar_type());
}

class BatchNormLeakyReLUBackward : public Function<BatchNormLeakyReLUBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad_out,
                               const at::Tensor& input, const at::Tensor& mean,
                               const at::Tensor& invstd, const std::optional<at::Tensor>& weight,
                               const std::optional<at::Tensor>& bias, double eps, double slope) {
    at::Tensor gi, gw, gb;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::batch_norm_leaky_relu_backward", calls::BnLeakyBwdSig);
      std::tie(gi, gw, gb) = op.call(grad_out, input, mean, invstd, weight, bias, eps, slope);
    }
    ctx->save_for_backward({grad_out, input, defined_or_empty(weight), defined_or_empty(bias)});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["slope"] = slope;
    return {gi, gw, gb};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    const auto saved = ctx->get_saved_variables();
    const bool create_graph = at::GradMode::is_enabled();
    at::AutoGradMode enable(true);
    auto leaf = [](const at::Tensor& t) { return t.defined() ? t.detach().requires_grad_(true) : t; };
    const at::Tensor go = leaf(saved[0]), x = leaf(saved[1]), w = leaf(saved[2]), b = leaf(saved[3]);
    const at::Tensor y = reference_forward(x, w, b, ctx->saved_data["eps"].toDouble(),
                                           ctx->saved_data["slope"].toDouble());
    // First derivatives as differentiable functions of (grad_out, input, weight, bias) ...
    variable_list wrt{x};
    if (w.defined()) wrt.push_back(w);
    if (b.defined()) wrt.push_back(b);
    const variable_list first = torch::autograd::grad({y}, wrt, {go}, /*retain_graph=*/true,
                                                      /*create_graph=*/true, /*allow_unused=*/true);
    // ... contracted with the incoming gradients of (grad_input, grad_weight, grad_bias).
    variable_list outputs, grads;
    const at::Tensor incoming[3] = {gg[0], w.defined() ? gg[1] : at::Tensor(),
                                    b.defined() ? gg[2] : at::Tensor()};
    size_t slot = 0;
    for (int i = 0; i < 3; ++i) {
      if (i > 0 && !(i == 1 ? w.defined() : b.defined())) continue;
      const at::Tensor& out = first[slot++];
      if (incoming[i].defined() && out.defined() && out.requires_grad()) {
        outputs.push_back(out);
        grads.push_back(incoming[i].to(out.scalar_type()));
      }
    }
    at::Tensor d_go, d_x, d_w, d_b;
    if (!outputs.empty()) {
      variable_list inputs{go, x};
      if (w.defined()) inputs.push_back(w);
      if (b.defined()) inputs.push_back(b);
      const variable_list second = torch::autograd::grad(outputs, inputs, grads, /*retain_graph=*/false,
                                                         create_graph, /*allow_unused=*/true);
      d_go = second[0];
      d_x = second[1];
      size_t k = 2;
      if (w.defined()) d_w = second[k++];
      if (b.defined()) d_b = second[k++];
    }
    return {d_go, d_x, at::Tensor(), at::Tensor(), d_w, d_b, at::Tensor(), at::Tensor()};
  }
};

class BatchNormLeakyReLU : public Function<BatchNormLeakyReLU> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& weight,
                               const std::optional<at::Tensor>& bias, double eps, double slope) {
    at::Tensor out, mean, invstd;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::batch_norm_leaky_relu", calls::BnLeakySig);
      std::tie(out, mean, invstd) = op.call(input, weight, bias, eps, slope);
    }
    ctx->save_for_backward({input, mean, invstd, defined_or_empty(weight), defined_or_empty(bias)});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["slope"] = slope;
    ctx->mark_non_differentiable({mean, invstd});
    return {out, mean, invstd};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    if (!grads[0].defined()) return variable_list(5);
    const variable_list g = BatchNormLeakyReLUBackward::apply(
        grads[0], saved[0], saved[1], saved[2], as_optional(saved[3]), as_optional(saved[4]),
        ctx->saved_data["eps"].toDouble(), ctx->saved_data["slope"].toDouble());
    return {g[0], saved[3].defined() ? g[1] : at::Tensor(), saved[4].defined() ? g[2] : at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu(
    const at::Tensor& input, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double slope) {
  const variable_list r = BatchNormLeakyReLU::apply(input, weight, bias, eps, slope);
  return {r[0], r[1], r[2]};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu_backward(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& mean,
    const at::Tensor& invstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double slope) {
  const variable_list r =
      BatchNormLeakyReLUBackward::apply(grad_out, input, mean, invstd, weight, bias, eps, slope);
  return {r[0], r[1], r[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("batch_norm_leaky_relu", &batch_norm_leaky_relu);
  m.impl("batch_norm_leaky_relu_backward", &batch_norm_leaky_relu_backward);
}

}  // namespace pygan::autograd
