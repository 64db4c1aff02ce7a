// CPU kernel of conv2d_weight_grad, the weight gradient of a 2-D convolution, as im2col + GEMM:
//   grad_weight[co, c, i, j] = sum over (n, oh, ow) of grad_output[n, co, oh, ow] * input[n, c, ih, iw],
//   ih = oh * stride_h + i - pad_h, iw = ow * stride_w + j - pad_w.
// A chunk of output positions at a time, its input patches are copied into rows of (i, j, c) (a few
// MiB, so they stay in cache), and ATen's GEMM adds grad_output's rows^T @ patches into the result.
// Why: oneDNN's AVX2 backward-weights kernel (its jit one; the brgemm kernels it uses for the other
// passes need AVX-512) ran DCGAN's 4x4 stride-2 layers at 70-100 GFLOP/s on a Zen 3 EPYC, where the
// GEMM runs 120-160 on the same shapes and the packing costs a few ms a layer.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>

#include "../checks.h"

namespace pygan::cpu {
namespace {

// Patches per chunk: about 2M elements (8 MiB in float32) of patch rows, and never fewer than 256
// rows, so that each GEMM call has a deep enough reduction to amortise reading the result.
constexpr int64_t kChunkElements = int64_t{1} << 21;
constexpr int64_t kMinChunkRows = 256;

struct Geometry {
  int64_t channels, height, width, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

// One output position's patch, row = (i, j, c) with c fastest: for each kernel row i, the taps j
// whose iw is inside the image are consecutive pixels of one NHWC row, so they are one copy.
template <typename T>
void pack_patch(const T* image, const Geometry& g, int64_t oh, int64_t ow, T* row) {
  const int64_t c = g.channels;
  const int64_t iw0 = ow * g.stride_w - g.pad_w;
  const int64_t j_lo = std::clamp<int64_t>(-iw0, 0, g.kernel_w);
  const int64_t j_hi = std::clamp<int64_t>(g.width - iw0, j_lo, g.kernel_w);
  for (int64_t i = 0; i < g.kernel_h; ++i, row += g.kernel_w * c) {
    const int64_t ih = oh * g.stride_h + i - g.pad_h;
    if (ih < 0 || ih >= g.height) {
      std::memset(row, 0, sizeof(T) * g.kernel_w * c);
      continue;
    }
    std::memset(row, 0, sizeof(T) * j_lo * c);
    std::memcpy(row + j_lo * c, image + (ih * g.width + iw0 + j_lo) * c, sizeof(T) * (j_hi - j_lo) * c);
    std::memset(row + j_hi * c, 0, sizeof(T) * (g.kernel_w - j_hi) * c);
  }
}

at::Tensor conv2d_weight_grad(const at::Tensor& input, const at::Tensor& grad_output, at::IntArrayRef kernel_size,
                              at::IntArrayRef stride, at::IntArrayRef padding) {
  check_conv2d_weight_grad_args(input, grad_output, kernel_size, stride, padding, "pygan.conv2d_weight_grad");
  // NHWC: a patch row is a few contiguous runs, and grad_output's rows are (n, oh, ow) with C_out fastest.
  const at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor gy = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  const Geometry g{x.size(1), x.size(2), x.size(3), gy.size(2), gy.size(3), kernel_size[0], kernel_size[1],
                   stride[0], stride[1], padding[0], padding[1]};
  const int64_t out_channels = gy.size(1), per_image = g.out_h * g.out_w;
  const int64_t positions = x.size(0) * per_image, row = g.kernel_h * g.kernel_w * g.channels;
  at::Tensor grad = at::zeros({out_channels, row}, x.options());  // (C_out, i, j, c)
  if (positions > 0 && row > 0 && out_channels > 0) {
    const int64_t chunk = std::min(positions, std::max(kMinChunkRows, kChunkElements / row));
    at::Tensor patches = at::empty({chunk, row}, x.options());
    const at::Tensor gy_rows = gy.permute({0, 2, 3, 1}).reshape({positions, out_channels});
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pygan.conv2d_weight_grad", [&] {
      const scalar_t* images = x.const_data_ptr<scalar_t>();
      scalar_t* rows = patches.data_ptr<scalar_t>();
      const int64_t image_size = g.height * g.width * g.channels;
      for (int64_t p0 = 0; p0 < positions; p0 += chunk) {
        const int64_t p1 = std::min(positions, p0 + chunk);
        at::parallel_for(p0, p1, 16, [&](int64_t lo, int64_t hi) {
          for (int64_t p = lo; p < hi; ++p) {
            const int64_t n = p / per_image, oh = (p % per_image) / g.out_w, ow = p % g.out_w;
            pack_patch(images + n * image_size, g, oh, ow, rows + (p - p0) * row);
          }
        });
        grad.addmm_(gy_rows.slice(0, p0, p1).t(), patches.narrow(0, 0, p1 - p0));
      }
    });
  }
  // (C_out, i, j, c) is the channels-last layout of the (C_out, C, kh, kw) weight: a view, no copy.
  return grad.view({out_channels, g.kernel_h, g.kernel_w, g.channels}).permute({0, 3, 1, 2});
}

}  // namespace

TORCH_LIBRARY_IMPL(pygan, CPU, m) { m.impl("conv2d_weight_grad", &conv2d_weight_grad); }

}  // namespace pygan::cpu
