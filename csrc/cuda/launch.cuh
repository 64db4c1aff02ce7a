// Launch helpers shared by the CUDA kernels: grid sizing and a block-wide sum.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pygan::cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1024;  // grid-stride loops cover the rest

inline int blocks_for(int64_t n) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)));
}

// Sum of `v` over the block, valid in thread 0. `shared` holds kThreads values.
template <typename T>
__device__ T block_sum(T v, T* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

}  // namespace pygan::cuda
