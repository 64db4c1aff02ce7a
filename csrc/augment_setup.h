// Checks, layout and output allocation of the DiffAugment op, shared by the CPU and CUDA op
// wrappers. The checks run in the order pygan/ops/_augment_checks.py makes them, with the same words.
#pragma once

#include <ATen/core/Tensor.h>

#include "allocate.h"
#include "checks.h"
#include "image_layout.h"

namespace pygan {

struct DiffAugmentSetup {
  at::Tensor input;     // NCHW-contiguous or NHWC-contiguous
  at::Tensor color;     // (N, 3) brightness, saturation, contrast in the math dtype, contiguous
  at::Tensor geometry;  // (N, 6) int64 dy, dx, y0, y1, x0, x1, contiguous
  ImageLayout layout;
  at::Tensor out;       // laid out as input
};

inline void check_augment_params(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry,
                                 const char* op, const char* x_name) {
  check_floating(x, op, x_name);
  TORCH_CHECK(x.dim() == 4, op, ": ", x_name, " must be a batch of images (N, C, H, W), got shape ", x.sizes(),
              "; add the missing dims with .view()");
  const int64_t n = x.size(0);
  TORCH_CHECK(color.defined() && (color.scalar_type() == at::kFloat || color.scalar_type() == at::kDouble), op,
              ": color must be a float32 or float64 tensor (N, 3) of brightness offsets and saturation and "
              "contrast factors, got ", color.defined() ? color.scalar_type() : at::ScalarType::Undefined);
  TORCH_CHECK(color.dim() == 2 && color.size(0) == n && color.size(1) == 3, op,
              ": color must have shape (N, 3) = (", n, ", 3) for ", x_name, " of shape ", x.sizes(), ", got ",
              color.sizes());
  TORCH_CHECK(color.device() == x.device(), op, ": color is on ", color.device(), " but ", x_name, " is on ",
              x.device(), "; move both to the same device");
  TORCH_CHECK(geometry.defined() && (geometry.scalar_type() == at::kLong || geometry.scalar_type() == at::kInt), op,
              ": geometry must be an int64 or int32 tensor (N, 6) of shifts and cut boxes, got ",
              geometry.defined() ? geometry.scalar_type() : at::ScalarType::Undefined);
  TORCH_CHECK(geometry.dim() == 2 && geometry.size(0) == n && geometry.size(1) == 6, op,
              ": geometry must have shape (N, 6) = (", n, ", 6) (dy, dx, y0, y1, x0, x1) for ", x_name,
              " of shape ", x.sizes(), ", got ", geometry.sizes());
  TORCH_CHECK(geometry.device() == x.device(), op, ": geometry is on ", geometry.device(), " but ", x_name,
              " is on ", x.device(), "; move both to the same device");
}

// `x_name` names the image argument in messages: "x" for the op, "grad_output" for its adjoint.
inline DiffAugmentSetup setup_diff_augment(const at::Tensor& x, const at::Tensor& color, const at::Tensor& geometry,
                                           const char* op, const char* x_name) {
  check_augment_params(x, color, geometry, op, x_name);
  const bool channels_last = !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor input = channels_last ? x : x.contiguous();
  const auto math = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor c = color.scalar_type() == math ? color.contiguous() : color.to(math).contiguous();
  at::Tensor g = geometry.scalar_type() == at::kLong ? geometry.contiguous() : geometry.to(at::kLong).contiguous();
  return {input, c, g, image_layout(input, channels_last), aten::empty_like(input)};
}

}  // namespace pygan
