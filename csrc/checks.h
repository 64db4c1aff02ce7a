// Argument checks shared by the CPU and CUDA op wrappers: every message names the argument and
// says how to fix it, so that a direct torch.ops.pygan.* call fails as clearly as the Python API.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <string_view>
#include <tuple>
#include <utility>

namespace pygan {

enum class Reduction { kNone, kMean, kSum };

inline Reduction parse_reduction(std::string_view reduction, const char* op) {
  if (reduction == "mean") return Reduction::kMean;
  if (reduction == "sum") return Reduction::kSum;
  if (reduction == "none") return Reduction::kNone;
  TORCH_CHECK(false, op, ": reduction must be 'mean', 'sum' or 'none', got '", reduction, "'");
}

// The objectives of pygan.discriminator_objective / generator_objective (see pygan_math.h).
enum class ObjectiveKind { kHinge, kLeastSquares, kWasserstein, kRelativistic };

inline ObjectiveKind parse_objective_kind(std::string_view kind, const char* op, bool generator) {
  if (kind == "hinge") return ObjectiveKind::kHinge;
  if (kind == "least-squares") return ObjectiveKind::kLeastSquares;
  if (kind == "wasserstein") return ObjectiveKind::kWasserstein;
  if (kind == "relativistic" && !generator) return ObjectiveKind::kRelativistic;
  TORCH_CHECK(false, op, ": kind must be one of ",
              generator ? "'hinge', 'least-squares', 'wasserstein'"
                        : "'hinge', 'least-squares', 'wasserstein', 'relativistic'",
              ", got '", kind, "'",
              generator && kind == "relativistic"
                  ? "; the relativistic G objective is discriminator_objective with real and fake swapped"
                  : "");
}

// The objectives and the penalty are always reduced (their callers train on the mean).
inline Reduction parse_reduced(std::string_view reduction, const char* op) {
  TORCH_CHECK(reduction == "mean" || reduction == "sum", op,
              ": reduction must be 'mean' or 'sum', got '", reduction, "'");
  return reduction == "mean" ? Reduction::kMean : Reduction::kSum;
}

inline void check_floating(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(t.defined(), op, ": ", arg, " is undefined; pass a tensor");
  const auto st = t.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kDouble || st == at::kHalf || st == at::kBFloat16, op,
              ": ", arg, " must be float32, float64, float16 or bfloat16, got ", st,
              "; convert it with .float()");
}

inline void check_same_device_dtype(const at::Tensor& a, const char* a_name, const at::Tensor& b,
                                    const char* b_name, const char* op) {
  TORCH_CHECK(a.device() == b.device(), op, ": ", a_name, " is on ", a.device(), " but ", b_name,
              " is on ", b.device(), "; move both to the same device");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), op, ": ", a_name, " is ", a.scalar_type(),
              " but ", b_name, " is ", b.scalar_type(), "; convert both to the same dtype");
}

inline void check_real_label(double real_label, const char* op) {
  TORCH_CHECK(std::isfinite(real_label) && real_label >= 0.0 && real_label <= 1.0, op,
              ": real_label must lie in [0, 1] (1.0 = no smoothing, 0.9 = one-sided smoothing), got ",
              real_label);
}

// fused_leaky_relu's backward keeps only the output and reads the input's sign from it: that
// holds for slope >= 0 (and gain > 0) only, so negative slopes are refused rather than given a
// wrong gradient. batch_norm_leaky_relu keeps its input and accepts any finite slope.
inline void check_leaky_params(double negative_slope, double gain, const char* op) {
  TORCH_CHECK(std::isfinite(negative_slope) && negative_slope >= 0.0, op,
              ": negative_slope must be a finite number >= 0 (the backward reads the input's sign "
              "from the output, which a negative slope flips), got ", negative_slope,
              "; for a negative slope use torch.nn.functional.leaky_relu");
  TORCH_CHECK(std::isfinite(gain) && gain > 0.0, op,
              ": gain must be a finite number > 0 (it scales the output; the backward reads the "
              "sign of the output), got ", gain);
}

inline void check_bias(const at::Tensor& input, const at::Tensor& bias, const char* op) {
  check_floating(bias, op, "bias");
  check_same_device_dtype(input, "input", bias, "bias", op);
  TORCH_CHECK(input.dim() >= 2, op, ": a bias is added along dim 1, so input needs at least 2 "
              "dims, got shape ", input.sizes());
  TORCH_CHECK(bias.dim() == 1 && bias.numel() == input.size(1), op, ": bias must be 1-D with one "
              "value per channel (input.size(1) = ", input.size(1), "), got shape ", bias.sizes());
}

// The grad of a reduced loss is a 0-dim tensor; of an unreduced one, shaped like the loss.
inline void check_loss_grad(const at::Tensor& grad, const at::Tensor& like, Reduction reduction,
                            const char* op) {
  check_floating(grad, op, "grad_loss");
  if (reduction == Reduction::kNone) {
    TORCH_CHECK(grad.sizes() == like.sizes(), op, ": with reduction='none' grad_loss must have "
                "the logits' shape ", like.sizes(), ", got ", grad.sizes());
  } else {
    TORCH_CHECK(grad.numel() == 1, op, ": with a reduced loss grad_loss must hold one value, got "
                "shape ", grad.sizes());
  }
}

// BatchNorm's per-channel weight or bias: 1-D, one value per channel, in the input's dtype or
// (under autocast, with bfloat16/float16 activations) in float32.
inline void check_bn_param(const at::Tensor& input, const at::Tensor& param, const char* op,
                           const char* arg) {
  check_floating(param, op, arg);
  TORCH_CHECK(param.device() == input.device(), op, ": ", arg, " is on ", param.device(),
              " but input is on ", input.device(), "; move both to the same device");
  const bool low = input.scalar_type() == at::kHalf || input.scalar_type() == at::kBFloat16;
  TORCH_CHECK(param.scalar_type() == input.scalar_type() || (low && param.scalar_type() == at::kFloat),
              op, ": ", arg, " is ", param.scalar_type(), " but input is ", input.scalar_type(),
              "; use the input's dtype (or float32 with float16/bfloat16 input)");
  TORCH_CHECK(param.dim() == 1 && param.numel() == input.size(1), op, ": ", arg,
              " must be 1-D with one value per channel (input.size(1) = ", input.size(1),
              "), got shape ", param.sizes());
}

inline void check_batch_norm_input(const at::Tensor& input, double eps, double negative_slope,
                                   const char* op) {
  check_floating(input, op, "input");
  TORCH_CHECK(input.dim() >= 2, op, ": input must be (N, C, ...) with channels in dim 1, got shape ",
              input.sizes());
  const int64_t per_channel = input.size(1) == 0 ? 0 : input.numel() / input.size(1);
  TORCH_CHECK(per_channel > 1, op, ": batch statistics need more than 1 value per channel, got "
              "input shape ", input.sizes(), "; use a batch of at least 2 samples");
  TORCH_CHECK(std::isfinite(eps) && eps > 0.0, op, ": eps must be a finite number > 0, got ", eps);
  TORCH_CHECK(std::isfinite(negative_slope), op, ": negative_slope must be finite, got ",
              negative_slope);
}

// conv2d_weight_grad: input (N, C, H, W) and grad_output (N, C_out, OH, OW) of one 2-D convolution
// with kernel_size, stride and padding (pairs), float32 or float64.
inline void check_conv2d_weight_grad_args(const at::Tensor& input, const at::Tensor& grad_output,
                                          at::IntArrayRef kernel_size, at::IntArrayRef stride,
                                          at::IntArrayRef padding, const char* op) {
  for (const auto& [t, arg] : {std::pair{&input, "input"}, std::pair{&grad_output, "grad_output"}}) {
    TORCH_CHECK(t->defined(), op, ": ", arg, " is undefined; pass a tensor");
    TORCH_CHECK(t->scalar_type() == at::kFloat || t->scalar_type() == at::kDouble, op, ": ", arg,
                " must be float32 or float64, got ", t->scalar_type(), "; convert it with .float()");
    TORCH_CHECK(t->dim() == 4, op, ": ", arg, " must be 4-D (N, C, H, W), got shape ", t->sizes());
  }
  check_same_device_dtype(input, "input", grad_output, "grad_output", op);
  for (const auto& [v, arg, least] : {std::tuple{kernel_size, "kernel_size", 1}, std::tuple{stride, "stride", 1},
                                      std::tuple{padding, "padding", 0}}) {
    TORCH_CHECK(v.size() == 2 && v[0] >= least && v[1] >= least, op, ": ", arg, " must be two integers >= ",
                least, " (height, width), got ", v);
  }
  TORCH_CHECK(grad_output.size(0) == input.size(0), op, ": grad_output has batch ", grad_output.size(0),
              " but input has ", input.size(0), "; pass the grad_output of this input's convolution");
  int64_t expected[2];
  for (int d = 0; d < 2; ++d) {
    const int64_t span = input.size(2 + d) + 2 * padding[d] - kernel_size[d];
    TORCH_CHECK(span >= 0, op, ": kernel_size ", kernel_size, " is larger than input ", input.sizes(),
                " padded by ", padding);
    expected[d] = span / stride[d] + 1;
  }
  TORCH_CHECK(grad_output.size(2) == expected[0] && grad_output.size(3) == expected[1], op,
              ": grad_output's spatial size must be (", expected[0], ", ", expected[1], ") for input ",
              input.sizes(), " with kernel_size ", kernel_size, ", stride ", stride, " and padding ", padding,
              ", got ", grad_output.sizes());
}

}  // namespace pygan
