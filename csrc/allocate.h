// The few ATen functions the op wrappers (CPU and CUDA) call, through ATen's operator entry points
// (ATen/ops/*_ops.h), as at::empty and friends do: their own headers pull in ATen/Context.h and
// ATen/ATen.h more, which cost g++ ~8 s and nvcc ~25 s of every file that includes them.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/batch_norm_stats_ops.h>
#include <ATen/ops/empty_like_ops.h>
#include <ATen/ops/empty_ops.h>
#include <ATen/ops/full_ops.h>
#include <ATen/ops/mul_ops.h>
#include <ATen/ops/sum_ops.h>
#include <ATen/ops/zeros_ops.h>

#include <optional>
#include <tuple>

namespace pygan::aten {

inline at::Tensor empty(at::IntArrayRef size, const at::TensorOptions& o) {
  return at::_ops::empty_memory_format::call(
      c10::fromIntArrayRefSlow(size), c10::optTypeMetaToScalarType(o.dtype_opt()), o.layout_opt(),
      o.device_opt(), o.pinned_memory_opt(), c10::impl::check_tensor_options_and_extract_memory_format(o, std::nullopt));
}

// Same sizes, dtype and strides (dense tensors keep their layout, as at::empty_like).
inline at::Tensor empty_like(const at::Tensor& x) {
  return at::_ops::empty_like::call(x, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt);
}

inline at::Tensor zeros(at::IntArrayRef size, const at::TensorOptions& o) {
  return at::_ops::zeros::call(c10::fromIntArrayRefSlow(size), c10::optTypeMetaToScalarType(o.dtype_opt()),
                               o.layout_opt(), o.device_opt(), o.pinned_memory_opt());
}

inline at::Tensor full(at::IntArrayRef size, const at::Scalar& value, const at::TensorOptions& o) {
  return at::_ops::full::call(c10::fromIntArrayRefSlow(size), value, c10::optTypeMetaToScalarType(o.dtype_opt()),
                              o.layout_opt(), o.device_opt(), o.pinned_memory_opt());
}

inline at::Tensor& sum_out(at::Tensor& out, const at::Tensor& x, at::IntArrayRef dims) {
  return at::_ops::sum_IntList_out::call(x, dims, false, std::nullopt, out);
}

inline at::Tensor& mul_out(at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
  return at::_ops::mul_out::call(a, b, out);
}

inline std::tuple<at::Tensor, at::Tensor> batch_norm_stats(const at::Tensor& input, double eps) {
  return at::_ops::batch_norm_stats::call(input, eps);
}

}  // namespace pygan::aten
