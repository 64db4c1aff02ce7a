// The per-ISA CPU kernels. Callers pass contiguous (or, for elementwise ops, densely strided)
// inputs and preallocated outputs; cpu/gan_loss.cpp and cpu/fused_leaky_relu.cpp do the checks,
// layout and allocation once, outside the ISA-specific code.
#pragma once

#include <ATen/core/Tensor.h>

#include "../checks.h"
#include "../image_layout.h"

namespace pygan::cpu {

// How a per-channel bias (dim 1) lies in memory.
struct BiasLayout {
  int64_t channels = 0;
  int64_t inner = 1;           // elements per (sample, channel) plane when channels come first
  bool channels_last = false;  // channel is the fastest-moving index (also 2-D input)
};

// (N, C, *) input as the BatchNorm kernels walk it: `outer` x C planes of `inner` elements each
// (channels first), or rows of C channels (channels last, or 2-D input).
struct ChannelLayout {
  int64_t outer = 0, channels = 0, inner = 1;
  bool rows = false;
  int64_t count() const { return outer * inner; }  // values per channel
};

}  // namespace pygan::cpu

#define PYGAN_DECLARE_CPU_KERNELS                                                               \
  void discriminator_loss_kernel(const at::Tensor& real, const at::Tensor& fake,               \
                                 double real_label, Reduction reduction, at::Tensor& loss,      \
                                 at::Tensor& d_real, at::Tensor& d_fake);                       \
  void discriminator_loss_backward_kernel(const at::Tensor& grad, const at::Tensor& real,      \
                                          const at::Tensor& fake, double real_label,            \
                                          Reduction reduction, at::Tensor& grad_real,           \
                                          at::Tensor& grad_fake);                               \
  void generator_loss_kernel(const at::Tensor& fake, bool saturating, Reduction reduction,     \
                             at::Tensor& loss, at::Tensor& d_fake);                             \
  void generator_loss_backward_kernel(const at::Tensor& grad, const at::Tensor& fake,          \
                                      bool saturating, Reduction reduction,                     \
                                      at::Tensor& grad_fake);                                   \
  void fused_leaky_relu_kernel(const at::Tensor& input, const at::Tensor* bias,                \
                               const BiasLayout& layout, double negative_slope, double gain,    \
                               at::Tensor& out);                                                \
  void fused_leaky_relu_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output, \
                                        double negative_slope, double gain,                     \
                                        at::Tensor& grad_input);                                \
  void fused_leaky_relu_backward_bias_kernel(                                                   \
      const at::Tensor& grad_output, const at::Tensor& output, const BiasLayout& layout,         \
      double negative_slope, double gain, at::Tensor& grad_input, at::Tensor& grad_bias);        \
  void batch_norm_leaky_relu_kernel(const at::Tensor& input, const ChannelLayout& layout,      \
                                    const at::Tensor& weight, const at::Tensor& bias, double eps, \
                                    double negative_slope, at::Tensor& out, at::Tensor& mean,   \
                                    at::Tensor& invstd);                                        \
  void batch_norm_leaky_relu_backward_kernel(                                                   \
      const at::Tensor& grad_out, const at::Tensor& input, const ChannelLayout& layout,         \
      const at::Tensor& mean, const at::Tensor& invstd, const at::Tensor& weight,               \
      const at::Tensor& bias, double negative_slope, at::Tensor& grad_input,                    \
      at::Tensor& grad_weight, at::Tensor& grad_bias);                                          \
  void discriminator_objective_kernel(const at::Tensor& real, const at::Tensor& fake,          \
                                      ObjectiveKind kind, double real_target, double fake_target, \
                                      Reduction reduction, at::Tensor& loss, at::Tensor& d_real, \
                                      at::Tensor& d_fake);                                      \
  void discriminator_objective_backward_kernel(                                                 \
      const at::Tensor& grad, const at::Tensor& real, const at::Tensor& fake, ObjectiveKind kind, \
      double real_target, double fake_target, Reduction reduction, at::Tensor& grad_real,       \
      at::Tensor& grad_fake);                                                                   \
  void generator_objective_kernel(const at::Tensor& fake, ObjectiveKind kind, double target,   \
                                  Reduction reduction, at::Tensor& loss, at::Tensor& d_fake);   \
  void generator_objective_backward_kernel(const at::Tensor& grad, const at::Tensor& fake,     \
                                           ObjectiveKind kind, double target,                   \
                                           Reduction reduction, at::Tensor& grad_fake);         \
  void gradient_penalty_kernel(const at::Tensor& grad, int64_t samples, int64_t per_sample,    \
                               double center, Reduction reduction, at::Tensor& penalty,         \
                               at::Tensor& norms);                                              \
  void gradient_penalty_backward_kernel(const at::Tensor& grad_penalty, const at::Tensor& grad, \
                                        const at::Tensor& norms, int64_t samples,               \
                                        int64_t per_sample, double center, Reduction reduction, \
                                        at::Tensor& grad_input);                               \
  void diff_augment_kernel(const at::Tensor& input, const at::Tensor& color,                   \
                           const at::Tensor& geometry, const ImageLayout& layout, at::Tensor& out); \
  void diff_augment_backward_kernel(const at::Tensor& grad_output, const at::Tensor& color,    \
                                    const at::Tensor& geometry, const ImageLayout& layout,      \
                                    at::Tensor& grad_input);

namespace pygan::cpu::isa_default {
PYGAN_DECLARE_CPU_KERNELS
}
namespace pygan::cpu::isa_avx2 {
PYGAN_DECLARE_CPU_KERNELS
}
namespace pygan::cpu::isa_avx512 {
PYGAN_DECLARE_CPU_KERNELS
}
