// Which instruction-set build of the CPU kernels runs. Each cpu/*_kernel.cpp is compiled once per
// ISA into namespace pygan::cpu::isa_<name>; the op wrappers call the best one this CPU can run.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pygan::cpu {

enum class Isa { kDefault, kAvx2, kAvx512 };

// ATen's choice (its CPU detection, or ATEN_CPU_CAPABILITY, which ATen trusts unchecked) clamped
// to what this CPU really supports, among the builds compiled in. Decided once per process.
Isa active_isa();
// ATen's choice among the builds compiled in, before clamping.
Isa requested_isa();

std::string isa_name(Isa isa);
std::optional<Isa> parse_isa(const std::string& name);  // "default", "avx2", "avx512" (any case)

// The CPU features each ISA build's compiler flags let the compiler use (setup.py's ISA_FLAGS).
const std::vector<std::string>& required_features(Isa isa);
// Of every feature some build requires, those this CPU (and its OS) supports.
const std::vector<std::string>& cpu_features();
// The highest ISA at or below `requested` whose required features are all in `features`.
Isa clamp_isa(Isa requested, const std::vector<std::string>& features);
// The ISAs (compiled in or not) whose builds this CPU could run.
std::vector<Isa> supported_isas(const std::vector<std::string>& features);

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
