// The CUDA entry points of every pygan op, defined in the .cu files and registered with the
// dispatcher in registrations.cpp: the .cu files leave torch/library.h out (nvcc spends ~15 s a
// file on it).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>

namespace pygan::cuda {

// gan_loss.cu: the BCE losses of the 2014 paper.
std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_loss(const at::Tensor& real, const at::Tensor& fake,
                                                                  double real_label, c10::string_view reduction);
std::tuple<at::Tensor, at::Tensor> discriminator_loss_backward(const at::Tensor& grad, const at::Tensor& real,
                                                               const at::Tensor& fake, double real_label,
                                                               c10::string_view reduction);
std::tuple<at::Tensor, at::Tensor> generator_loss(const at::Tensor& fake, bool saturating,
                                                  c10::string_view reduction);
at::Tensor generator_loss_backward(const at::Tensor& grad, const at::Tensor& fake, bool saturating,
                                   c10::string_view reduction);

// gan_objective.cu: hinge, least squares, Wasserstein, relativistic.
std::tuple<at::Tensor, at::Tensor, at::Tensor> discriminator_objective(
    const at::Tensor& real, const at::Tensor& fake, c10::string_view kind, double real_target,
    double fake_target, c10::string_view reduction);
std::tuple<at::Tensor, at::Tensor> discriminator_objective_backward(
    const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, c10::string_view kind,
    double real_target, double fake_target, c10::string_view reduction);
std::tuple<at::Tensor, at::Tensor> generator_objective(const at::Tensor& fake, c10::string_view kind,
                                                       double target, c10::string_view reduction);
at::Tensor generator_objective_backward(const at::Tensor& grad, const at::Tensor& fake, c10::string_view kind,
                                        double target, c10::string_view reduction);

// gradient_penalty.cu: per-sample gradient norms and the penalty on them.
std::tuple<at::Tensor, at::Tensor> gradient_penalty(const at::Tensor& grad, double center,
                                                    c10::string_view reduction);
at::Tensor gradient_penalty_backward(const at::Tensor& grad_penalty, const at::Tensor& grad,
                                     const at::Tensor& norms, double center, c10::string_view reduction);

// diff_augment.cu: DiffAugment's color, translation and cutout, and the map's adjoint.
at::Tensor diff_augment(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry);
at::Tensor diff_augment_backward(const at::Tensor& grad_output, const at::Tensor& color, const at::Tensor& geometry);

// fused_leaky_relu.cu: bias + LeakyReLU.
at::Tensor fused_leaky_relu(const at::Tensor& input, const std::optional<at::Tensor>& bias,
                            double negative_slope, double gain);
void fused_leaky_relu_(at::Tensor& input, const std::optional<at::Tensor>& bias, double negative_slope,
                       double gain);
at::Tensor fused_leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& output,
                                     double negative_slope, double gain);
std::tuple<at::Tensor, at::Tensor> fused_leaky_relu_backward_bias(const at::Tensor& grad_output,
                                                                  const at::Tensor& output,
                                                                  double negative_slope, double gain);

// batch_norm_leaky_relu.cu: training-mode BatchNorm + LeakyReLU.
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu(
    const at::Tensor& input, const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias,
    double eps, double negative_slope);
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_leaky_relu_backward(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& mean, const at::Tensor& invstd,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps,
    double negative_slope);

// conv2d_weight_grad.cpp: cuDNN's weight gradient, behind pygan's argument checks.
at::Tensor conv2d_weight_grad(const at::Tensor& input, const at::Tensor& grad_output, at::IntArrayRef kernel_size,
                              at::IntArrayRef stride, at::IntArrayRef padding);
}  // namespace pygan::cuda
