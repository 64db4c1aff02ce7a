// Autograd for the fused LeakyReLU ops. The backward keeps only the output. The backward ops are
// linear in grad_output with a mask read from the output, so their own derivative is the plain
// backward op: any order of derivative (R1, gradient penalties) runs on our kernels. With a bias
// that needs a gradient, one op computes grad_input and its per-channel sum in one pass.
#include <ATen/TensorOperators.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "op_calls.h"

namespace pygan::autograd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

at::Tensor call_backward(const at::Tensor& grad_output, const at::Tensor& output, double slope,
                         double gain) {
  PYGAN_OP_HANDLE(op, "pygan::fused_leaky_relu_backward", calls::LeakyBwdSig);
  return op.call(grad_output, output, slope, gain);
}

std::tuple<at::Tensor, at::Tensor> call_backward_bias(const at::Tensor& grad_output,
                                                      const at::Tensor& output, double slope,
                                                      double gain) {
  PYGAN_OP_HANDLE(op, "pygan::fused_leaky_relu_backward_bias", calls::LeakyBwdBiasSig);
  return op.call(grad_output, output, slope, gain);
}

void save_params(AutogradContext* ctx, double slope, double gain) {
  ctx->saved_data["slope"] = slope;
  ctx->saved_data["gain"] = gain;
}

// Gradients for (input, bias, negative_slope, gain) given d output.
variable_list input_and_bias_grads(AutogradContext* ctx, const at::Tensor& grad_output,
                                   const at::Tensor& output, bool has_bias) {
  const double slope = ctx->saved_data["slope"].toDouble();
  const double gain = ctx->saved_data["gain"].toDouble();
  if (has_bias && ctx->needs_input_grad(1)) {
    auto [grad_input, grad_bias] = call_backward_bias(grad_output, output, slope, gain);
    return {grad_input, grad_bias, at::Tensor(), at::Tensor()};
  }
  return {call_backward(grad_output, output, slope, gain), at::Tensor(), at::Tensor(), at::Tensor()};
}

class FusedLeakyReLUBackward : public Function<FusedLeakyReLUBackward> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output,
                            const at::Tensor& output, double slope, double gain) {
    at::Tensor grad_input;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      grad_input = call_backward(grad_output, output, slope, gain);
    }
    ctx->save_for_backward({output});
    save_params(ctx, slope, gain);
    return grad_input;
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    // grad_input = grad_output * mask(output): linear in grad_output; the mask is piecewise
    // constant in output, whose derivative is zero almost everywhere.
    auto grads = input_and_bias_grads(ctx, gg[0], ctx->get_saved_variables()[0], false);
    return {grads[0], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class FusedLeakyReLUBackwardBias : public Function<FusedLeakyReLUBackwardBias> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad_output,
                               const at::Tensor& output, double slope, double gain) {
    at::Tensor grad_input, grad_bias;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      std::tie(grad_input, grad_bias) = call_backward_bias(grad_output, output, slope, gain);
    }
    ctx->save_for_backward({output});
    save_params(ctx, slope, gain);
    return {grad_input, grad_bias};
  }

  static variable_list backward(AutogradContext* ctx, variable_list gg) {
    // grad_bias is the channel sum of grad_input, so d/d grad_output of <gg_input, grad_input> +
    // <gg_bias, grad_bias> is the plain backward of gg_input + gg_bias (broadcast over the
    // channel); zero for output, as for the plain backward.
    const at::Tensor output = ctx->get_saved_variables()[0];
    at::Tensor g = gg[0];
    if (gg[1].defined()) {
      std::vector<int64_t> shape(output.dim(), 1);
      shape[1] = output.size(1);
      const at::Tensor per_channel = gg[1].reshape(shape);
      g = g.defined() ? g + per_channel : per_channel.expand(output.sizes());
    }
    if (!g.defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const double slope = ctx->saved_data["slope"].toDouble();
    const double gain = ctx->saved_data["gain"].toDouble();
    return {call_backward(g, output, slope, gain), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class FusedLeakyReLU : public Function<FusedLeakyReLU> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const std::optional<at::Tensor>& bias, double slope, double gain) {
    at::Tensor output;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::fused_leaky_relu", calls::LeakySig);
      output = op.call(input, bias, slope, gain);
    }
    ctx->save_for_backward({output});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    save_params(ctx, slope, gain);
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return input_and_bias_grads(ctx, grads[0], ctx->get_saved_variables()[0],
                                ctx->saved_data["has_bias"].toBool());
  }
};

class FusedLeakyReLUInplace : public Function<FusedLeakyReLUInplace> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor input,
                            const std::optional<at::Tensor>& bias, double slope, double gain) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::fused_leaky_relu_", calls::LeakyInplaceSig);
      op.call(input, bias, slope, gain);
    }
    // Safe in place: the backward needs only the output, which is what input now holds.
    ctx->mark_dirty({input});
    ctx->save_for_backward({input});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    save_params(ctx, slope, gain);
    return input;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return input_and_bias_grads(ctx, grads[0], ctx->get_saved_variables()[0],
                                ctx->saved_data["has_bias"].toBool());
  }
};

at::Tensor fused_leaky_relu(const at::Tensor& input, const std::optional<at::Tensor>& bias,
                            double slope, double gain) {
  return FusedLeakyReLU::apply(input, bias, slope, gain);
}

void fused_leaky_relu_(at::Tensor& input, const std::optional<at::Tensor>& bias, double slope,
                       double gain) {
  FusedLeakyReLUInplace::apply(input, bias, slope, gain);
}

at::Tensor fused_leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& output,
                                     double slope, double gain) {
  return FusedLeakyReLUBackward::apply(grad_output, output, slope, gain);
}

std::tuple<at::Tensor, at::Tensor> fused_leaky_relu_backward_bias(const at::Tensor& grad_output,
                                                                  const at::Tensor& output,
                                                                  double slope, double gain) {
  auto grads = FusedLeakyReLUBackwardBias::apply(grad_output, output, slope, gain);
  return {grads[0], grads[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) {
  m.impl("fused_leaky_relu", &fused_leaky_relu);
  m.impl("fused_leaky_relu_", &fused_leaky_relu_);
  m.impl("fused_leaky_relu_backward", &fused_leaky_relu_backward);
  m.impl("fused_leaky_relu_backward_bias", &fused_leaky_relu_backward_bias);
}

}  // namespace pygan::autograd
