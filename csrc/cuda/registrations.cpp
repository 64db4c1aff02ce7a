// The CUDA kernels of every pygan op, registered with the dispatcher in one C++ file, so that
// the .cu files compile without torch/library.h.
#include <torch/library.h>

#include "ops.h"

namespace pygan::cuda {

TORCH_LIBRARY_IMPL(pygan, CUDA, m) {
  m.impl("discriminator_loss", &discriminator_loss);
  m.impl("discriminator_loss_backward", &discriminator_loss_backward);
  m.impl("generator_loss", &generator_loss);
  m.impl("generator_loss_backward", &generator_loss_backward);
  m.impl("discriminator_objective", &discriminator_objective);
  m.impl("discriminator_objective_backward", &discriminator_objective_backward);
  m.impl("generator_objective", &generator_objective);
  m.impl("generator_objective_backward", &generator_objective_backward);
  m.impl("gradient_penalty", &gradient_penalty);
  m.impl("gradient_penalty_backward", &gradient_penalty_backward);
  m.impl("diff_augment", &diff_augment);
  m.impl("diff_augment_backward", &diff_augment_backward);
  m.impl("fused_leaky_relu", &fused_leaky_relu);
  m.impl("fused_leaky_relu_", &fused_leaky_relu_);
  m.impl("fused_leaky_relu_backward", &fused_leaky_relu_backward);
  m.impl("fused_leaky_relu_backward_bias", &fused_leaky_relu_backward_bias);
  m.impl("batch_norm_leaky_relu", &batch_norm_leaky_relu);
  m.impl("batch_norm_leaky_relu_backward", &batch_norm_leaky_relu_backward);
  m.impl("conv2d_weight_grad", &conv2d_weight_grad);
}

}  // namespace pygan::cuda
