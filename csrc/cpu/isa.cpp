#include "isa.h"

#include <ATen/Version.h>

namespace pygan::cpu {

static Isa detect() {
  // ATen's own choice (CPU features, capped by ATEN_CPU_CAPABILITY): "DEFAULT", "AVX2", "AVX512".
  const std::string aten = at::get_cpu_capability();
#if defined(PYGAN_HAVE_AVX512) && defined(PYGAN_HAVE_AVX2)
  if (aten == "AVX512") return Isa::kAvx512;
  if (aten == "AVX2") return Isa::kAvx2;
#endif
  return Isa::kDefault;
}

Isa active_isa() {
  static const Isa isa = detect();
  return isa;
}

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "default";
  }
}

}  // namespace pygan::cpu
