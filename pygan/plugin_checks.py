"""Calls into plugins with their contract checked: a plugin that raises or breaks the contract
becomes one PluginError naming the plugin and what broke, never a traceback from deep inside it.

A PyganError a plugin raises on purpose (e.g. "data folder does not exist") is already a message
for the user and passes through unchanged. The checks are cheap: the data spec once, each dataset
item's type and shape (no values read), the models' types once, and the shapes of G's and D's
outputs on the first batch (no host sync).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from pygan.errors import PyganError
from pygan.plugins import DataSpec, GanModels, PluginError


def _call(what: str, member: Callable[..., Any], *args: Any) -> Any:
    """member(*args); a failure becomes a PluginError "<what> failed: <type>: <message>", except a
    PyganError, which is already a message for the user."""
    try:
        return member(*args)
    except PyganError:
        raise
    except Exception as exc:
        raise PluginError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def _shape(shape: Any) -> str:
    return str(tuple(int(n) for n in shape))  # "(8,)", "(3, 4, 4)", "()"


def checked_spec(name: str, plugin: Any, options: Mapping[str, Any]) -> DataSpec:
    """plugin.spec(options), refused with a PluginError if it raises or returns no valid DataSpec."""
    where = f"dataset plugin '{name}'"
    spec = _call(f"{where}: spec()", plugin.spec, options)
    if not isinstance(spec, DataSpec):
        raise PluginError(f"{where}: spec() must return a pygan.plugins.DataSpec, got {type(spec).__name__}")
    shape = spec.shape
    if (not isinstance(shape, tuple) or not shape
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
        raise PluginError(f"{where}: spec() gave the shape {shape!r}; a sample's shape is a non-empty tuple of "
                          "positive ints, (C, H, W) for images or (D,) for vectors")
    low_high = spec.value_range
    if low_high is not None and not (len(low_high) == 2 and low_high[0] < low_high[1]):
        raise PluginError(f"{where}: spec() gave the value range {low_high!r}; expected (low, high) with "
                          "low < high, or None for unbounded data")
    classes = spec.classes
    if (not isinstance(classes, tuple) or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes) or len(classes) == 1):
        raise PluginError(f"{where}: spec() gave the classes {classes!r}; expected a tuple of two or more distinct "
                          "non-empty names, or () for unlabelled data")
    return spec


class CheckedDataset(torch.utils.data.Dataset):
    """A plugin's dataset whose items are checked against the spec: one floating tensor of
    `spec.shape` each. Items are returned as they are (the same tensor objects), so training on
    the wrapper is bit-identical to training on the dataset itself. Other attributes are the
    wrapped dataset's (e.g. `files`, `skipped` of an image folder)."""

    def __init__(self, dataset: Any, name: str, spec: DataSpec, length: int) -> None:
        self.dataset, self.name, self.spec, self.length = dataset, name, spec, length

    def __len__(self) -> int:
        return self.length

    def __getattr__(self, attribute: str) -> Any:
        # Only reached for attributes the wrapper lacks; "dataset" is guarded so that copy and
        # pickle (which probe before __init__ ran) do not recurse.
        if attribute.startswith("__") or attribute == "dataset":
            raise AttributeError(attribute)
        return getattr(self.dataset, attribute)

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, int) and not -self.length <= index < self.length:
            raise IndexError(f"index {index} is out of range for {self.length} samples")  # ends iteration
        where = f"dataset plugin '{self.name}': item {index}"
        item = _call(where, self.dataset.__getitem__, index)
        expected = f"one floating-point tensor of shape {_shape(self.spec.shape)}, as spec() says"
        if self.spec.classes:
            labelled = f"(sample, label): a sample of shape {_shape(self.spec.shape)} and an int64 label in " \
                       f"[0, {self.spec.num_classes}), as spec() names {self.spec.num_classes} classes"
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise PluginError(f"{where} is a {type(item).__name__}; expected {labelled}")
            sample, label = item
            if not (isinstance(label, torch.Tensor) and label.dtype == torch.int64 and label.dim() == 0):
                raise PluginError(f"{where}: its label is {label!r}; expected {labelled}")
            return self._checked_sample(sample, where, expected), label
        if isinstance(item, (list, tuple)):
            raise PluginError(f"{where} is a {type(item).__name__} of {len(item)}; expected {expected} (a labelled "
                              "dataset names its classes in spec())")
        return self._checked_sample(item, where, expected)

    def _checked_sample(self, item: Any, where: str, expected: str) -> torch.Tensor:
        if not isinstance(item, torch.Tensor):
            got = "None" if item is None else f"a {type(item).__name__}"
            raise PluginError(f"{where} is {got}; expected {expected}")
        if not item.is_floating_point():
            raise PluginError(f"{where} is a tensor of dtype {item.dtype}; expected {expected}")
        if tuple(item.shape) != self.spec.shape:
            raise PluginError(f"{where} has shape {_shape(item.shape)}; expected {expected}")
        return item


def checked_load(name: str, plugin: Any, options: Mapping[str, Any], spec: DataSpec) -> torch.utils.data.Dataset:
    """plugin.load(options) wrapped in a CheckedDataset; a PluginError if it raises, is no
    dataset (no len() or indexing) or is empty."""
    where = f"dataset plugin '{name}'"
    dataset = _call(f"{where}: load()", plugin.load, options)
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise PluginError(f"{where}: load() must return a map-style torch Dataset (with __len__ and "
                          f"__getitem__), got {type(dataset).__name__}")
    try:
        length = len(dataset)
    except Exception as exc:
        raise PluginError(f"{where}: len() of its dataset failed: {type(exc).__name__}: {exc}") from exc
    if length == 0:
        raise PluginError(f"{where}: load() returned an empty dataset (0 samples); check its options and data")
    if spec.classes:
        labels = getattr(dataset, "labels", None)
        if not (isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.shape == (length,)):
            raise PluginError(f"{where}: its data names {spec.num_classes} classes, so its dataset needs `labels`, "
                              f"an int64 tensor of the {length} items' labels")
        if labels.min() < 0 or labels.max() >= spec.num_classes:
            raise PluginError(f"{where}: its labels lie in [{int(labels.min())}, {int(labels.max())}], outside "
                              f"[0, {spec.num_classes}) for its {spec.num_classes} classes")
    return CheckedDataset(dataset, name, spec, length)


def checked_build(name: str, arch: Any, spec: DataSpec, options: Mapping[str, Any]) -> GanModels:
    """arch.build(spec, options); a PluginError if it raises or returns no GanModels of two nn.Modules."""
    where = f"architecture plugin '{name}'"
    models = _call(f"{where}: build() for data {spec.describe()}", arch.build, spec, options)
    if not isinstance(models, GanModels):
        raise PluginError(f"{where}: build() must return pygan.plugins.GanModels(generator, discriminator), "
                          f"got {type(models).__name__}")
    for network in ("generator", "discriminator"):
        module = getattr(models, network)
        if not isinstance(module, nn.Module):
            raise PluginError(f"{where}: build() returned a {network} that is a {type(module).__name__}, "
                              "not a torch.nn.Module")
    return models


def check_outputs(arch_name: str, fake: torch.Tensor, logits: torch.Tensor, spec: DataSpec, batch: int, *,
                  d_spec: DataSpec | None = None) -> None:
    """G's output `fake` must be (batch, *spec.shape); D's `logits` one per example D saw.

    `batch` is the number of samples G made. With packing (`d_spec`, PacGAN) D sees them in groups
    of d_spec.shape[0] // spec.shape[0], so it must return batch // pack logits. Shapes only: no
    value is read, so nothing waits for the device.
    """
    where = f"architecture plugin '{arch_name}'"
    expected_fake = (batch, *spec.shape)
    if not isinstance(fake, torch.Tensor) or tuple(fake.shape) != expected_fake:
        got = _shape(fake.shape) if isinstance(fake, torch.Tensor) else f"a {type(fake).__name__}"
        raise PluginError(f"{where}: the generator returned {got}; expected a tensor of shape "
                          f"{_shape(expected_fake)} (batch, *the data's shape)")
    pack = d_spec.shape[0] // spec.shape[0] if d_spec is not None else 1
    d_batch = batch // pack
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (d_batch,):
        got = _shape(logits.shape) if isinstance(logits, torch.Tensor) else f"a {type(logits).__name__}"
        packed = f", {batch} samples in packs of {pack}" if pack > 1 else ""
        raise PluginError(f"{where}: the discriminator returned {got}; expected a tensor of shape ({d_batch},): "
                          f"exactly one logit per example{packed} (flatten a (N, 1) output; no sigmoid)")
