// How a batch of images lies in memory, as the DiffAugment kernels (CPU and CUDA) walk it.
#pragma once

#include <ATen/core/Tensor.h>

namespace pygan {

// A batch of images (N, C, H, W) as the kernels walk it: element (n, c, y, x) lies at
// n * sample + c * channel + y * row + x * pixel, channels first (NCHW) or last (NHWC).
struct ImageLayout {
  int64_t samples = 0, channels = 0, height = 0, width = 0;
  int64_t sample = 0, channel = 0, row = 0, pixel = 0;
  bool channels_last = false;
};

inline ImageLayout image_layout(const at::Tensor& x, bool channels_last) {
  ImageLayout l;
  l.samples = x.size(0), l.channels = x.size(1), l.height = x.size(2), l.width = x.size(3);
  l.channels_last = channels_last;
  l.pixel = channels_last ? l.channels : 1;
  l.row = l.width * l.pixel;
  l.channel = channels_last ? 1 : l.height * l.width;
  l.sample = l.channels * l.height * l.width;
  return l;
}

}  // namespace pygan
