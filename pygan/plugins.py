"""Plugins: architectures, datasets, losses, regularisers and augmentations found through Python
entry points.

A distribution registers plugins under five entry-point groups (`pygan.losses`,
`pygan.regularisers` and `pygan.augmentations` beside the two below; their contracts live in
pygan/losses.py, pygan/regularisers.py and pygan/augmentations.py); the entry-point name is the
name users type:

    [project.entry-points."pygan.architectures"]
    myarch = "pygan_myarch:MyArch"          # pygan train --arch myarch

    [project.entry-points."pygan.datasets"]
    mydata = "pygan_mydata:MyData"          # pygan train --plugin mydata

The object is an `Architecture` / `Dataset` subclass (or instance), or any object with the same
members. Discovery reads only the packaging metadata; a plugin's module is imported when it is
first used (or when `pygan plugins list` checks it), and models are built only by the trainer.
A plugin that fails to import or breaks its contract is reported by name with the reason while
every other plugin keeps working.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from pygan.errors import PyganError

ARCHITECTURES = "pygan.architectures"
DATASETS = "pygan.datasets"
LOSSES = "pygan.losses"
REGULARISERS = "pygan.regularisers"
AUGMENTATIONS = "pygan.augmentations"
GROUPS = {ARCHITECTURES: "architecture", DATASETS: "dataset", LOSSES: "loss", REGULARISERS: "regulariser",
          AUGMENTATIONS: "augmentation"}
# The contract class a plugin of each group subclasses, for the message when it breaks the contract.
CONTRACTS = {ARCHITECTURES: "pygan.plugins.Architecture", DATASETS: "pygan.plugins.Dataset",
             LOSSES: "pygan.losses.Loss", REGULARISERS: "pygan.regularisers.Regulariser",
             AUGMENTATIONS: "pygan.augmentations.Augmentation"}


class PluginError(PyganError, RuntimeError):
    """A plugin is unknown, broken, or was given options it does not declare."""


# ---------------------------------------------------------------- the shared vocabulary


@dataclass(frozen=True)
class DataSpec:
    """What one sample looks like.

    shape: (C, H, W) for images, (D,) for vectors. value_range: (low, high) the values lie in,
    e.g. (-1, 1) for images, or None for unbounded data such as 2-D mixtures. classes: the names
    of the data's classes, label k naming classes[k]; () for unlabelled data.
    """

    shape: tuple[int, ...]
    value_range: tuple[float, float] | None = (-1.0, 1.0)
    classes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        """0 for unlabelled data."""
        return len(self.classes)

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def describe(self) -> str:
        kind = "image" if self.is_image else "vector"
        rng = "unbounded" if self.value_range is None else f"in [{self.value_range[0]}, {self.value_range[1]}]"
        labels = f", {self.num_classes} classes" if self.classes else ""
        return f"{kind} {'x'.join(map(str, self.shape))} {rng}{labels}"


@dataclass(frozen=True)
class Option:
    """An option a plugin declares: `--option name=value` on the command line.

    min / max: inclusive bounds a given value must lie within; choices: the only values accepted.
    `resolve_options` enforces them on every value given (a default of None means "not set").
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    def valid_range(self) -> str:
        """The accepted values in words ("" if any value of the type is), e.g. "in [1, 4096]"."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        if self.min is not None and self.max is not None:
            return f"in [{self.min}, {self.max}]"
        if self.min is not None:
            return f">= {self.min}"
        if self.max is not None:
            return f"<= {self.max}"
        return ""

    def check(self, value: Any, plugin: str) -> Any:
        """`value` (already parsed) if it lies in the declared range, else a PluginError naming both."""
        if value is None:
            return value
        inside = (value in self.choices) if self.choices is not None else (
            (self.min is None or value >= self.min) and (self.max is None or value <= self.max))
        if not inside:  # a NaN fails both comparisons, so it is refused too
            raise PluginError(f"{plugin}: option '{self.name}' must be {self.valid_range()}, got {value!r}; "
                              "give a value in that range")
        return value

    def parse(self, value: Any, plugin: str) -> Any:
        if value is None or (isinstance(value, self.type) and isinstance(value, bool) == (self.type is bool)):
            return value
        text = str(value).strip()
        try:
            if isinstance(value, bool) or (self.type is bool and not isinstance(value, str)):
                raise ValueError(text)  # a TOML true is no number and 1 no boolean; only text is parsed
            if self.type is bool:
                if text.lower() in {"1", "true", "yes", "on"}:
                    return True
                if text.lower() in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(text)
            return self.type(text)
        except ValueError:
            raise PluginError(
                f"{plugin}: option '{self.name}' expects {self.type.__name__}, got {value!r}"
            ) from None


@dataclass(frozen=True)
class AdamSettings:
    """Default optimiser settings an architecture recommends (used for both G and D)."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = 0.0  # share of training, at its end, over which the lr falls linearly to 0


@dataclass
class GanModels:
    generator: nn.Module
    discriminator: nn.Module


def resolve_options(plugin: str, declared: tuple[Option, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Fill defaults, convert types, and refuse options the plugin does not declare or values out of range."""
    by_name = {o.name.replace("-", "_"): o for o in declared}
    resolved = {key: o.default for key, o in by_name.items()}
    for raw_key, value in given.items():
        key = raw_key.replace("-", "_")
        if key not in by_name:
            known = ", ".join(sorted(o.name for o in declared)) or "none"
            raise PluginError(f"{plugin}: unknown option '{raw_key}'; its options are: {known}")
        option = by_name[key]
        resolved[key] = option.check(option.parse(value, plugin), plugin)
    return resolved


# ---------------------------------------------------------------- the two contracts


class Architecture(ABC):
    """Builds a generator and a discriminator for a data spec.

    The generator maps z (shape `latent_shape`) to samples of `spec.shape` in `spec.value_range`;
    the discriminator maps samples to ONE LOGIT per sample (shape (N,)): no final sigmoid, the
    losses take logits.

    Class-conditional architectures set `conditional = True`. On labelled data (spec.classes not
    empty) their nets take labels, int64 class indices: G(z, y) with y of shape (N,), and D(x, y)
    with y of shape (N,), or (N, pack) when PacGAN packs `pack` samples into one example of D (the
    labels of the packed samples, in order). On unlabelled data they build unconditional nets
    called as G(z) and D(x). An architecture that needs labels refuses unlabelled data in
    `accepts`. A run of labelled data with an architecture that is not conditional is refused.
    """

    description: str = ""
    conditional: bool = False
    options: tuple[Option, ...] = ()
    optimizer: AdamSettings = AdamSettings()
    # The --ema decay a run gets unless it asks for another (0 = no moving average of G's weights).
    ema_decay: float = 0.0

    @abstractmethod
    def accepts(self, spec: DataSpec) -> str | None:
        """None if this architecture can model `spec`, else the reason it cannot."""

    @abstractmethod
    def latent_shape(self, spec: DataSpec, options: Mapping[str, Any]) -> tuple[int, ...]:
        """The shape of one z for this data."""

    @abstractmethod
    def build(self, spec: DataSpec, options: Mapping[str, Any]) -> GanModels:
        """Fresh, initialised G and D for `spec` (options already resolved)."""

    def sample_latent(self, n: int, spec: DataSpec, options: Mapping[str, Any], *,
                      device: torch.device | str = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of z; standard normal unless the architecture says otherwise."""
        return torch.randn((n, *self.latent_shape(spec, options)), device=device, generator=generator)


class Dataset(ABC):
    """Describes its data and yields it as a torch Dataset of tensors shaped like `spec`.

    Labelled data: `spec` names the classes, each item is (sample, label) with label an int64
    scalar tensor in [0, num_classes), and the torch Dataset has `labels`, an int64 tensor of every
    item's label (read once for the class frequencies, without loading the samples). By
    convention the option `labels` chooses whether a dataset is labelled (none = unlabelled).

    Optional mixture protocol: a Gaussian mixture (as ring8 and grid25) may also define
    `modes() -> Tensor` of shape (K, D), the component means, and `std: float`, their standard
    deviation; `evaluate` (and so `pygan evaluate` and `--eval-every`) then reports mode coverage
    instead of Frechet distance and KID.
    """

    description: str = ""
    options: tuple[Option, ...] = ()

    @abstractmethod
    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        """The data spec for these (resolved) options, without loading the data."""

    @abstractmethod
    def load(self, options: Mapping[str, Any]) -> torch.utils.data.Dataset:
        """The data; each item is one tensor of `spec(options).shape` (with its label if labelled)."""


_REQUIRED = {
    ARCHITECTURES: ("accepts", "latent_shape", "build", "sample_latent", "options", "optimizer"),
    DATASETS: ("spec", "load", "options"),
    LOSSES: ("discriminator", "generator", "options", "probabilities", "generator_needs_real", "minimax_value"),
    REGULARISERS: ("penalty", "target", "default_weight", "default_every"),
    AUGMENTATIONS: ("apply", "adjust", "initial_strength", "options"),
}


# ---------------------------------------------------------------- discovery


@dataclass
class PluginInfo:
    name: str
    group: str
    target: str  # "module:object"
    distribution: str
    version: str
    entry_point: metadata.EntryPoint | None = field(default=None, repr=False)
    conflict: str | None = None

    @property
    def kind(self) -> str:
        return GROUPS[self.group]


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


@functools.cache
def discover(group: str) -> dict[str, PluginInfo]:
    """Every plugin registered in `group`, by name, from packaging metadata alone (no imports)."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; expected one of {sorted(GROUPS)}")
    found: dict[str, PluginInfo] = {}
    for ep in metadata.entry_points(group=group):
        dist, version = _distribution_of(ep)
        info = PluginInfo(ep.name, group, ep.value, dist, version, ep)
        seen = found.get(ep.name)
        if seen is None:
            found[ep.name] = info
        elif (seen.distribution, seen.target) != (dist, ep.value):
            # The same name from two places: refuse to guess which one the user meant.
            providers = f"{seen.distribution} ({seen.target}) and {dist} ({ep.value})"
            seen.conflict = f"the name '{ep.name}' is registered twice: by {providers}; uninstall one"
    return found


@functools.cache
def _load(group: str, name: str) -> Any:
    info = discover(group)[name]
    if info.conflict:
        raise PluginError(f"{info.kind} plugin '{name}' is ambiguous: {info.conflict}")
    try:
        obj = info.entry_point.load()
    except Exception as exc:  # any import-time failure must not take the other plugins down
        raise PluginError(
            f"{info.kind} plugin '{name}' ({info.target}, from {info.distribution}) failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        instance = obj() if isinstance(obj, type) else obj
    except Exception as exc:
        raise PluginError(f"{info.kind} plugin '{name}' ({info.target}) could not be created: {exc}") from exc
    missing = [m for m in _REQUIRED[group] if not hasattr(instance, m)]
    if missing:
        raise PluginError(
            f"{info.kind} plugin '{name}' ({info.target}) breaks the contract: it lacks "
            f"{', '.join(missing)} (subclass {CONTRACTS[group]})"
        )
    return instance


def get(group: str, name: str) -> Any:
    """The plugin instance called `name`; a clear PluginError if it is unknown or broken."""
    plugins = discover(group)
    if name not in plugins:
        kind = GROUPS[group]
        installed = ", ".join(sorted(plugins)) or "none"
        raise PluginError(f"unknown {kind} '{name}'; installed {kind}s: {installed}")
    return _load(group, name)


def get_architecture(name: str) -> Architecture:
    return get(ARCHITECTURES, name)


def get_dataset(name: str) -> Dataset:
    return get(DATASETS, name)


def get_loss(name: str) -> Any:
    """The loss plugin `name` (a pygan.losses.Loss)."""
    return get(LOSSES, name)


def get_regulariser(name: str) -> Any:
    """The regulariser plugin `name` (a pygan.regularisers.Regulariser)."""
    return get(REGULARISERS, name)


def get_augmentation(name: str) -> Any:
    """The augmentation plugin `name` (a pygan.augmentations.Augmentation)."""
    return get(AUGMENTATIONS, name)


@dataclass
class PluginStatus:
    name: str
    kind: str
    distribution: str
    version: str
    target: str
    status: str  # "ok" or "broken"
    reason: str = ""
    description: str = ""


def check_all() -> list[PluginStatus]:
    """Load every plugin and report each as ok or broken (with the reason)."""
    rows = []
    for group in GROUPS:
        for name, info in sorted(discover(group).items()):
            row = PluginStatus(name, info.kind, info.distribution, info.version, info.target, "ok")
            try:
                row.description = getattr(_load(group, name), "description", "")
            except PluginError as exc:
                row.status, row.reason = "broken", str(exc)
            rows.append(row)
    return rows


def refresh() -> None:
    """Forget discovered and loaded plugins (after installing or removing distributions)."""
    discover.cache_clear()
    _load.cache_clear()
