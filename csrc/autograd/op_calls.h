// Typed dispatcher handles for the pygan ops, for the autograd kernels that call the op below
// the autograd key (cached once; a schema lookup per call would cost microseconds).
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <tuple>

namespace pygan::calls {

template <typename Sig>
const c10::TypedOperatorHandle<Sig>& handle(const char* name) {
  // One static per (name, signature) call site through the lambda below.
  return *new c10::TypedOperatorHandle<Sig>(
      c10::Dispatcher::singleton().findSchemaOrThrow(name, "").template typed<Sig>());
}

#define PYGAN_OP_HANDLE(var, name, sig) \
  static const auto& var = ::pygan::calls::handle<sig>(name)

using DLossSig = std::tuple<at::Tensor, at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                double, c10::string_view);
using DLossBwdSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                       const at::Tensor&, double, c10::string_view);
using GLossSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, bool, c10::string_view);
using GLossBwdSig = at::Tensor(const at::Tensor&, const at::Tensor&, bool, c10::string_view);
using DObjSig = std::tuple<at::Tensor, at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                c10::string_view, double, double,
                                                                c10::string_view);
using DObjBwdSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                      c10::string_view, double, double, c10::string_view);
using GObjSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, c10::string_view, double, c10::string_view);
using GObjBwdSig = at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view, double, c10::string_view);
using PenaltySig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, double, c10::string_view);
using PenaltyBwdSig = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double,
                                 c10::string_view);
using AugmentSig = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&);
using LeakySig = at::Tensor(const at::Tensor&, const std::optional<at::Tensor>&, double, double);
using LeakyInplaceSig = void(at::Tensor&, const std::optional<at::Tensor>&, double, double);
using LeakyBwdSig = at::Tensor(const at::Tensor&, const at::Tensor&, double, double);
using LeakyBwdBiasSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, double,
                                                           double);
using BnLeakySig = std::tuple<at::Tensor, at::Tensor, at::Tensor>(
    const at::Tensor&, const std::optional<at::Tensor>&, const std::optional<at::Tensor>&, double, double);
using BnLeakyBwdSig = std::tuple<at::Tensor, at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
    const std::optional<at::Tensor>&, const std::optional<at::Tensor>&, double, double);
using ConvWeightGradSig = at::Tensor(const at::Tensor&, const at::Tensor&, c10::IntArrayRef, c10::IntArrayRef,
                                     c10::IntArrayRef);

}  // namespace pygan::calls
