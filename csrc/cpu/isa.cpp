#include "isa.h"

#include <ATen/Version.h>

#include <algorithm>
#include <cctype>

namespace pygan::cpu {
namespace {

constexpr Isa kAllIsas[] = {Isa::kDefault, Isa::kAvx2, Isa::kAvx512};

bool has_all(const std::vector<std::string>& have, const std::vector<std::string>& need) {
  return std::all_of(need.begin(), need.end(), [&](const std::string& f) {
    return std::find(have.begin(), have.end(), f) != have.end();
  });
}

std::vector<std::string> detect_features() {
  std::vector<std::string> found;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's CPUID check also needs the OS to save the wider registers (XCR0), so a feature
  // reported here is one the process may use. Names are compile-time constants for the builtin.
  __builtin_cpu_init();
#define PYGAN_PROBE(name) \
  if (__builtin_cpu_supports(name)) found.emplace_back(name)
  PYGAN_PROBE("avx2");
  PYGAN_PROBE("fma");
  PYGAN_PROBE("f16c");
  PYGAN_PROBE("bmi");
  PYGAN_PROBE("lzcnt");
  PYGAN_PROBE("avx512f");
  PYGAN_PROBE("avx512bw");
  PYGAN_PROBE("avx512vl");
  PYGAN_PROBE("avx512dq");
#undef PYGAN_PROBE
#endif
  return found;
}

// ATen's CPU capability as one of the builds compiled in (no AVX builds: always the default).
Isa aten_choice() {
#if defined(PYGAN_HAVE_AVX512) && defined(PYGAN_HAVE_AVX2)
  return parse_isa(at::get_cpu_capability()).value_or(Isa::kDefault);
#else
  return Isa::kDefault;
#endif
}

}  // namespace

const std::vector<std::string>& required_features(Isa isa) {
  // -mavx2 -mfma -mf16c -mbmi -mlzcnt, and -mavx512f (which implies AVX2) -mavx512bw -mavx512vl
  // -mavx512dq -mfma -mf16c.
  static const std::vector<std::string> none, avx2{"avx2", "fma", "f16c", "bmi", "lzcnt"},
      avx512{"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c"};
  switch (isa) {
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx2:
      return avx2;
    default:
      return none;
  }
}

const std::vector<std::string>& cpu_features() {
  static const std::vector<std::string> features = detect_features();
  return features;
}

Isa clamp_isa(Isa requested, const std::vector<std::string>& features) {
  for (int i = static_cast<int>(requested); i > 0; --i) {
    const Isa isa = static_cast<Isa>(i);
    if (has_all(features, required_features(isa))) return isa;
  }
  return Isa::kDefault;
}

std::vector<Isa> supported_isas(const std::vector<std::string>& features) {
  std::vector<Isa> out;
  for (const Isa isa : kAllIsas) {
    if (has_all(features, required_features(isa))) out.push_back(isa);
  }
  return out;
}

Isa requested_isa() {
  static const Isa isa = aten_choice();
  return isa;
}

Isa active_isa() {
  static const Isa isa = clamp_isa(requested_isa(), cpu_features());
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

std::optional<Isa> parse_isa(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (const Isa isa : kAllIsas) {
    if (isa_name(isa) == lower) return isa;
  }
  return std::nullopt;
}

}  // namespace pygan::cpu
