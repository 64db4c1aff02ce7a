// Which instruction-set build of the CPU kernels runs. Each cpu/*_kernel.cpp is compiled once per
// ISA into namespace pygan::cpu::isa_<name>; the op wrappers call the best one this CPU supports.
#pragma once

#include <string>

namespace pygan::cpu {

enum class Isa { kDefault, kAvx2, kAvx512 };

// The best ISA that is both compiled in and supported here (honours ATEN_CPU_CAPABILITY).
Isa active_isa();
std::string isa_name(Isa isa);

}  // namespace pygan::cpu

// Calls pygan::cpu::isa_<best>::fn(args...).
#if defined(PYGAN_HAVE_AVX512) && defined(PYGAN_HAVE_AVX2)
#define PYGAN_CPU_CALL(fn, ...)                                        \
  switch (::pygan::cpu::active_isa()) {                                \
    case ::pygan::cpu::Isa::kAvx512:                                   \
      ::pygan::cpu::isa_avx512::fn(__VA_ARGS__);                       \
      break;                                                           \
    case ::pygan::cpu::Isa::kAvx2:                                     \
      ::pygan::cpu::isa_avx2::fn(__VA_ARGS__);                         \
      break;                                                           \
    default:                                                           \
      ::pygan::cpu::isa_default::fn(__VA_ARGS__);                      \
  }
#else
#define PYGAN_CPU_CALL(fn, ...) ::pygan::cpu::isa_default::fn(__VA_ARGS__)
#endif
