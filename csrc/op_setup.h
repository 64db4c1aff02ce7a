// Checks, layouts and output allocation shared by the CPU and CUDA op wrappers, so that each
// device file only launches its kernel.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string_view>
#include <tuple>

#include "allocate.h"
#include "checks.h"
#include "cpu/kernels.h"

namespace pygan {

// ---- GAN losses ----

struct DiscriminatorLossSetup {
  Reduction reduction;
  at::Tensor real, fake;              // contiguous
  at::Tensor loss, d_real, d_fake;    // outputs
};

inline DiscriminatorLossSetup setup_discriminator_loss(const at::Tensor& real,
                                                       const at::Tensor& fake, double real_label,
                                                       std::string_view reduction) {
  constexpr const char* op = "pygan.discriminator_loss";
  const Reduction red = parse_reduction(reduction, op);
  check_floating(real, op, "real_logits");
  check_floating(fake, op, "fake_logits");
  check_same_device_dtype(real, "real_logits", fake, "fake_logits", op);
  check_real_label(real_label, op);
  TORCH_CHECK(red != Reduction::kNone || real.sizes() == fake.sizes(), op,
              ": reduction='none' returns the per-pair value -log D(x_i) - log(1 - D(G(z_i))), so "
              "real_logits and fake_logits need the same shape, got ", real.sizes(), " and ",
              fake.sizes(), "; use reduction='mean' or 'sum' for batches of different sizes");
  at::Tensor rc = real.contiguous();
  at::Tensor fc = fake.contiguous();
  at::Tensor loss = red == Reduction::kNone ? aten::empty_like(rc) : aten::empty({}, real.options());
  return {red, rc, fc, loss, aten::empty({}, real.options()), aten::empty({}, real.options())};
}

struct DiscriminatorLossBackwardSetup {
  Reduction reduction;
  at::Tensor grad, real, fake;        // contiguous
  at::Tensor grad_real, grad_fake;    // outputs
};

inline DiscriminatorLossBackwardSetup setup_discriminator_loss_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, double real_label,
    std::string_view reduction) {
  constexpr const char* op = "pygan.discriminator_loss_backward";
  const Reduction red = parse_reduction(reduction, op);
  check_floating(real, op, "real_logits");
  check_floating(fake, op, "fake_logits");
  check_same_device_dtype(real, "real_logits", fake, "fake_logits", op);
  check_same_device_dtype(real, "real_logits", grad, "grad_loss", op);
  check_real_label(real_label, op);
  check_loss_grad(grad, real, red, op);
  if (red == Reduction::kNone) check_loss_grad(grad, fake, red, op);
  at::Tensor rc = real.contiguous();
  at::Tensor fc = fake.contiguous();
  return {red, grad.contiguous(), rc, fc, aten::empty_like(rc), aten::empty_like(fc)};
}

struct GeneratorLossSetup {
  Reduction reduction;
  at::Tensor fake;
  at::Tensor loss, d_fake;
};

inline GeneratorLossSetup setup_generator_loss(const at::Tensor& fake, std::string_view reduction) {
  constexpr const char* op = "pygan.generator_loss";
  const Reduction red = parse_reduction(reduction, op);
  check_floating(fake, op, "fake_logits");
  at::Tensor fc = fake.contiguous();
  at::Tensor loss = red == Reduction::kNone ? aten::empty_like(fc) : aten::empty({}, fake.options());
  return {red, fc, loss, aten::empty({}, fake.options())};
}

struct GeneratorLossBackwardSetup {
  Reduction reduction;
  at::Tensor grad, fake;
  at::Tensor grad_fake;
};

inline GeneratorLossBackwardSetup setup_generator_loss_backward(const at::Tensor& grad,
                                                                const at::Tensor& fake,
                                                                std::string_view reduction) {
  constexpr const char* op = "pygan.generator_loss_backward";
  const Reduction red = parse_reduction(reduction, op);
  check_floating(fake, op, "fake_logits");
  check_same_device_dtype(fake, "fake_logits", grad, "grad_loss", op);
  check_loss_grad(grad, fake, red, op);
  at::Tensor fc = fake.contiguous();
  return {red, grad.contiguous(), fc, aten::empty_like(fc)};
}

// ---- fused LeakyReLU ----

struct LeakyReLUSetup {
  at::Tensor input;          // densely strided; the kernel walks its storage linearly
  cpu::BiasLayout layout;
  bool has_bias = false;
  at::Tensor bias;           // contiguous, when has_bias
  // The result is computed in `input`'s layout; when it differs from the caller's tensor (an
  // unusual permutation with a bias), it is copied into a tensor laid out like the caller's.
  bool copy_result = false;
};

inline LeakyReLUSetup setup_fused_leaky_relu(const at::Tensor& input,
                                             const std::optional<at::Tensor>& bias,
                                             double negative_slope, double gain, const char* op) {
  check_floating(input, op, "input");
  check_leaky_params(negative_slope, gain, op);
  LeakyReLUSetup s;
  s.input = input.is_non_overlapping_and_dense()
                ? input
                : input.contiguous(input.suggest_memory_format());
  if (!bias.has_value() || !bias->defined()) return s;
  check_bias(input, *bias, op);
  s.has_bias = true;
  s.bias = bias->contiguous();
  s.layout.channels = input.size(1);
  const int64_t per_sample = input.size(0) == 0 ? 0 : input.numel() / input.size(0);
  s.layout.inner = input.size(1) == 0 ? 0 : per_sample / input.size(1);
  const bool channels_last_input =
      !s.input.is_contiguous() &&
      ((s.input.dim() == 4 && s.input.is_contiguous(at::MemoryFormat::ChannelsLast)) ||
       (s.input.dim() == 5 && s.input.is_contiguous(at::MemoryFormat::ChannelsLast3d)));
  if (!s.input.is_contiguous() && !channels_last_input) {
    s.input = input.contiguous();
    s.copy_result = true;
  }
  // Row-major (N, C) and (N, C, 1...) are rows of C channels too: walking them as planes of one
  // element would cost a modulo and a call per element (about 10x slower on a Linear's output).
  s.layout.channels_last = channels_last_input || s.layout.inner == 1;
  return s;
}

// The device-independent parts of the forward ops; `run(setup, out)` launches the device kernel.
template <typename Run>
at::Tensor fused_leaky_relu_forward(const at::Tensor& input, const std::optional<at::Tensor>& bias,
                                    double negative_slope, double gain, const Run& run) {
  const auto s = setup_fused_leaky_relu(input, bias, negative_slope, gain, "pygan.fused_leaky_relu");
  at::Tensor out = aten::empty_like(s.input);
  run(s, out);
  if (!s.copy_result) return out;
  at::Tensor laid_out = aten::empty_like(input);
  laid_out.copy_(out);
  return laid_out;
}

template <typename Run>
void fused_leaky_relu_forward_(at::Tensor& input, const std::optional<at::Tensor>& bias,
                               double negative_slope, double gain, const Run& run) {
  const auto s = setup_fused_leaky_relu(input, bias, negative_slope, gain, "pygan.fused_leaky_relu_");
  if (s.copy_result || !s.input.is_same(input)) {
    at::Tensor out = aten::empty_like(s.input);
    run(s, out);
    input.copy_(out);
  } else {
    run(s, input);  // elementwise: reading and writing the same element is safe
  }
}

struct LeakyReLUBackwardSetup {
  at::Tensor grad_output, output;  // same dense strides
  at::Tensor grad_input;           // laid out like output
};

// The arguments both LeakyReLU backward ops take: floating, alike, of one shape.
inline void check_leaky_backward_args(const at::Tensor& grad_output, const at::Tensor& output,
                                      double negative_slope, double gain, const char* op) {
  check_floating(output, op, "output");
  check_floating(grad_output, op, "grad_output");
  check_same_device_dtype(output, "output", grad_output, "grad_output", op);
  check_leaky_params(negative_slope, gain, op);
  TORCH_CHECK(grad_output.sizes() == output.sizes(), op, ": grad_output has shape ",
              grad_output.sizes(), " but output has shape ", output.sizes());
}

// grad_output as is where it already has output's strides, else copied into output's layout.
inline at::Tensor laid_out_like(const at::Tensor& grad_output, const at::Tensor& output) {
  if (grad_output.is_non_overlapping_and_dense() && grad_output.strides() == output.strides()) {
    return grad_output;
  }
  at::Tensor go = aten::empty_like(output);
  go.copy_(grad_output);
  return go;
}

inline LeakyReLUBackwardSetup setup_fused_leaky_relu_backward(const at::Tensor& grad_output,
                                                              const at::Tensor& output,
                                                              double negative_slope, double gain) {
  check_leaky_backward_args(grad_output, output, negative_slope, gain, "pygan.fused_leaky_relu_backward");
  at::Tensor out = output.is_non_overlapping_and_dense()
                       ? output
                       : output.contiguous(output.suggest_memory_format());
  return {laid_out_like(grad_output, out), out, aten::empty_like(out)};
}

struct LeakyReLUBackwardBiasSetup {
  at::Tensor grad_output, output;  // contiguous or channels-last contiguous, same strides
  cpu::BiasLayout layout;          // how the channels (dim 1) lie in them
  at::Tensor grad_input;           // laid out like output
  at::Tensor grad_bias;            // (C,), in output's dtype (the bias has the input's dtype)
};

// The kernels walk contiguous input as planes and channels-last input as rows of C channels;
// any other layout is made contiguous (pygan/ops/_fake.py's _kernel_layout mirrors this).
inline bool is_channels_last_contiguous(const at::Tensor& t) {
  return (t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast)) ||
         (t.dim() == 5 && t.is_contiguous(at::MemoryFormat::ChannelsLast3d));
}

inline LeakyReLUBackwardBiasSetup setup_fused_leaky_relu_backward_bias(
    const at::Tensor& grad_output, const at::Tensor& output, double negative_slope, double gain) {
  constexpr const char* op = "pygan.fused_leaky_relu_backward_bias";
  check_leaky_backward_args(grad_output, output, negative_slope, gain, op);
  TORCH_CHECK(output.dim() >= 2, op, ": the bias gradient sums over all dims but dim 1 "
              "(channels), so output needs at least 2 dims, got shape ", output.sizes(),
              "; use fused_leaky_relu_backward for an output without a bias");
  LeakyReLUBackwardBiasSetup s;
  const bool rows = !output.is_contiguous() && is_channels_last_contiguous(output);
  s.output = output.is_contiguous() || rows ? output : output.contiguous();
  s.grad_output = laid_out_like(grad_output, s.output);
  const int64_t C = output.size(1);
  s.layout.channels = C;
  const int64_t per_sample = output.size(0) == 0 ? 0 : output.numel() / output.size(0);
  s.layout.inner = C == 0 ? 0 : per_sample / C;
  // (N, C) and (N, C, 1...) are rows of C channels too (planes of one element would cost a
  // call per element).
  s.layout.channels_last = rows || s.layout.inner == 1;
  s.grad_input = aten::empty_like(s.output);
  s.grad_bias = aten::empty({C}, output.options());
  return s;
}

// ---- BatchNorm (training-mode apply) + LeakyReLU ----

inline at::ScalarType opmath_dtype(at::ScalarType t) {
  return t == at::kDouble ? at::kDouble : at::kFloat;
}

struct BatchNormLeakyReLUSetup {
  at::Tensor input;           // contiguous, or channels-last contiguous
  cpu::ChannelLayout layout;
  at::Tensor weight, bias;    // opmath dtype, contiguous; ones / zeros where not given
  at::Tensor out;
  at::Tensor mean, invstd;    // the batch statistics: each device wrapper fills them its own way
};

inline at::Tensor bn_input_layout(const at::Tensor& input, cpu::ChannelLayout& layout) {
  layout.outer = input.size(0);
  layout.channels = input.size(1);
  layout.inner = 1;
  for (int64_t d = 2; d < input.dim(); ++d) layout.inner *= input.size(d);
  if (input.is_contiguous()) {
    layout.rows = layout.inner == 1;
    return input;
  }
  if ((input.dim() == 4 && input.is_contiguous(at::MemoryFormat::ChannelsLast)) ||
      (input.dim() == 5 && input.is_contiguous(at::MemoryFormat::ChannelsLast3d))) {
    layout.rows = true;
    return input;
  }
  layout.rows = layout.inner == 1;
  return input.contiguous();
}

inline at::Tensor bn_param(const at::Tensor& input, const std::optional<at::Tensor>& param,
                           double fill, const char* op, const char* arg) {
  const auto opts = input.options().dtype(opmath_dtype(input.scalar_type()));
  if (!param.has_value() || !param->defined()) return aten::full({input.size(1)}, fill, opts);
  check_bn_param(input, *param, op, arg);
  return param->to(opts.dtype()).contiguous();
}

// One per-channel statistic of `input`'s batch, in the math dtype, uninitialised.
inline at::Tensor empty_bn_statistic(const at::Tensor& input) {
  return aten::empty({input.size(1)}, input.options().dtype(opmath_dtype(input.scalar_type())));
}

inline BatchNormLeakyReLUSetup setup_batch_norm_leaky_relu(const at::Tensor& input,
                                                          const std::optional<at::Tensor>& weight,
                                                          const std::optional<at::Tensor>& bias,
                                                          double eps, double negative_slope) {
  constexpr const char* op = "pygan.batch_norm_leaky_relu";
  check_batch_norm_input(input, eps, negative_slope, op);
  BatchNormLeakyReLUSetup s;
  s.input = bn_input_layout(input, s.layout);
  s.weight = bn_param(input, weight, 1.0, op, "weight");
  s.bias = bn_param(input, bias, 0.0, op, "bias");
  s.out = aten::empty_like(s.input);
  return s;
}

struct BatchNormLeakyReLUBackwardSetup {
  at::Tensor grad_out, input;  // same strides
  cpu::ChannelLayout layout;
  at::Tensor mean, invstd, weight, bias;  // opmath dtype, contiguous
  at::Tensor grad_input, grad_weight, grad_bias;
  at::ScalarType weight_dtype, bias_dtype;  // dtypes of the returned grad_weight / grad_bias
};

inline BatchNormLeakyReLUBackwardSetup setup_batch_norm_leaky_relu_backward(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& mean,
    const at::Tensor& invstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, double eps, double negative_slope) {
  constexpr const char* op = "pygan.batch_norm_leaky_relu_backward";
  check_batch_norm_input(input, eps, negative_slope, op);
  check_floating(grad_out, op, "grad_out");
  check_same_device_dtype(input, "input", grad_out, "grad_out", op);
  TORCH_CHECK(grad_out.sizes() == input.sizes(), op, ": grad_out has shape ", grad_out.sizes(),
              " but input has shape ", input.sizes());
  const auto stat_dtype = opmath_dtype(input.scalar_type());
  for (const auto* t : {&mean, &invstd}) {
    const char* arg = t == &mean ? "mean" : "invstd";
    TORCH_CHECK(t->device() == input.device() && t->scalar_type() == stat_dtype && t->dim() == 1 &&
                    t->numel() == input.size(1),
                op, ": ", arg, " must be the forward's saved statistics: 1-D ", stat_dtype, " of ",
                input.size(1), " values on ", input.device(), ", got ", t->scalar_type(), " ",
                t->sizes(), " on ", t->device());
  }
  BatchNormLeakyReLUBackwardSetup s;
  s.input = bn_input_layout(input, s.layout);
  s.grad_out = grad_out;
  if (!(grad_out.is_non_overlapping_and_dense() && grad_out.strides() == s.input.strides())) {
    s.grad_out = aten::empty_like(s.input);
    s.grad_out.copy_(grad_out);
  }
  s.mean = mean.contiguous();
  s.invstd = invstd.contiguous();
  s.weight = bn_param(input, weight, 1.0, op, "weight");
  s.bias = bn_param(input, bias, 0.0, op, "bias");
  s.weight_dtype = weight.has_value() && weight->defined() ? weight->scalar_type() : stat_dtype;
  s.bias_dtype = bias.has_value() && bias->defined() ? bias->scalar_type() : stat_dtype;
  s.grad_input = aten::empty_like(s.input);
  s.grad_weight = aten::empty({input.size(1)}, mean.options());
  s.grad_bias = aten::empty({input.size(1)}, mean.options());
  return s;
}

// Returns (grad_input, grad_weight, grad_bias), the parameter grads in the parameters' dtype.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> finish_batch_norm_leaky_relu_backward(
    const BatchNormLeakyReLUBackwardSetup& s) {
  return {s.grad_input, s.grad_weight.to(s.weight_dtype), s.grad_bias.to(s.bias_dtype)};
}

}  // namespace pygan
