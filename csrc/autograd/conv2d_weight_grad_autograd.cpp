// Autograd for conv2d_weight_grad. The weight gradient is bilinear in (input, grad_output):
//   <gg, grad_weight> = sum gg[co, c, i, j] grad_output[n, co, oh, ow] input[n, c, ih, iw],
// so given gg, d/d grad_output = conv2d(input, gg) and d/d input = conv_transpose2d(grad_output, gg)
// with the stride and padding of the convolution (and the output padding that gives back input's
// size). Both are ATen convolutions, differentiable again: a loss on a weight gradient (a penalty
// that differentiates through a layer's backward) trains through it to any order.
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

class Conv2dWeightGrad : public Function<Conv2dWeightGrad> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& grad_output,
                            at::IntArrayRef kernel_size, at::IntArrayRef stride, at::IntArrayRef padding) {
    at::Tensor grad_weight;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      PYGAN_OP_HANDLE(op, "pygan::conv2d_weight_grad", calls::ConvWeightGradSig);
      grad_weight = op.call(input, grad_output, kernel_size, stride, padding);
    }
    ctx->save_for_backward({input, grad_output});
    ctx->saved_data["kernel_size"] = kernel_size.vec();
    ctx->saved_data["stride"] = stride.vec();
    ctx->saved_data["padding"] = padding.vec();
    return grad_weight;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list out(5);
    const at::Tensor& gg = grads[0];
    if (!gg.defined()) return out;
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];
    const at::Tensor& grad_output = saved[1];
    const auto kernel = ctx->saved_data["kernel_size"].toIntVector();
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const std::vector<int64_t> dilation{1, 1};
    if (ctx->needs_input_grad(0)) {
      // The rows and columns of input that no output position reads (a stride that does not
      // divide the padded size) come back as output padding, with zero gradient.
      std::vector<int64_t> output_padding(2);
      for (int d = 0; d < 2; ++d) {
        output_padding[d] = input.size(2 + d) -
                            ((grad_output.size(2 + d) - 1) * stride[d] - 2 * padding[d] + kernel[d]);
      }
      out[0] = at::convolution(grad_output, gg, std::nullopt, stride, padding, dilation, /*transposed=*/true,
                               output_padding, /*groups=*/1);
    }
    if (ctx->needs_input_grad(1)) {
      out[1] = at::convolution(input, gg, std::nullopt, stride, padding, dilation, /*transposed=*/false,
                               {0, 0}, /*groups=*/1);
    }
    return out;
  }
};

at::Tensor conv2d_weight_grad(const at::Tensor& input, const at::Tensor& grad_output, at::IntArrayRef kernel_size,
                              at::IntArrayRef stride, at::IntArrayRef padding) {
  return Conv2dWeightGrad::apply(input, grad_output, kernel_size, stride, padding);
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, Autograd, m) { m.impl("conv2d_weight_grad", &conv2d_weight_grad); }

}  // namespace pygan::autograd
