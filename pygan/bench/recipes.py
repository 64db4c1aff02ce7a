"""Named training recipes: a loss with its regularisers and the settings its paper trains with, as
`pygan bench quality --recipe NAME` compares them. Each recipe only sets fields of the trainer's
Config, so `pygan train` reproduces any row with the flags `flags()` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pygan.training.config import Config


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    loss: str = "non-saturating"
    regularisers: tuple[str, ...] = ()
    arch_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. labels=modes: class-conditional
    d_steps: int = 1
    lr: float | None = None      # None = the architecture's default (mlp: 2e-4, betas 0.5 / 0.999)
    beta1: float | None = None
    beta2: float | None = None
    ema: float | None = None     # None = the architecture's default (mlp: no moving average of G)

    def apply(self, config: Config) -> None:
        t = config.train
        t.loss, t.regularisers, t.d_steps = self.loss, list(self.regularisers), self.d_steps
        t.lr, t.beta1, t.beta2 = self.lr, self.beta1, self.beta2
        if self.ema is not None:
            t.ema = self.ema
        config.model.options.update(self.arch_options)
        config.data.options.update(self.data_options)

    def flags(self) -> str:
        parts = [f"--loss {self.loss}"] + [f"--reg {r}" for r in self.regularisers]
        parts += [f"--arch-option {k.replace('_', '-')}={str(v).lower()}" for k, v in self.arch_options.items()]
        parts += [f"--option {k}={v}" for k, v in self.data_options.items()]
        if self.d_steps != 1:
            parts.append(f"--d-steps {self.d_steps}")
        for flag, value in (("--lr", self.lr), ("--beta1", self.beta1), ("--beta2", self.beta2), ("--ema", self.ema)):
            if value is not None:
                parts.append(f"{flag} {value:g}")
        return " ".join(parts)


RECIPES = {r.name: r for r in (
    Recipe("non-saturating", "BCE, G minimises -log D(G(z)) (Goodfellow et al. 2014): the default"),
    Recipe("hinge", "hinge loss (Lim & Ye 2017)", loss="hinge"),
    Recipe("hinge-sn", "hinge loss with a spectrally normalised D (SNGAN, Miyato et al. 2018)", loss="hinge",
           arch_options={"spectral_norm": True}),
    Recipe("least-squares", "LSGAN (Mao et al. 2017), targets a = 0, b = c = 1", loss="least-squares"),
    Recipe("wgan-gp", "Wasserstein + gradient penalty 10, 5 D steps per G step, Adam 1e-4 / (0, 0.9) "
           "(Gulrajani et al. 2017)", loss="wasserstein", regularisers=("gradient-penalty:10",), d_steps=5,
           lr=1e-4, beta1=0.0, beta2=0.9),
    # gamma 0.1: on ring8 (10 epochs, seeds 0 and 1) it kept 76% / 87% of samples sharp, gamma 1 only 69% / 77%.
    Recipe("relativistic-r1-r2", "relativistic pairing loss + R1 and R2, gamma 0.1 each (R3GAN, Huang et al. 2024)",
           loss="relativistic", regularisers=("r1:0.1", "r2:0.1")),
    # The moving average of G: without it one class in some seeds sat 1.5 std off its mode, the
    # jitter of the last steps (seed 1: 94.2% of that class on its mode; with --ema 0.999, 99.4%).
    Recipe("conditional", "the default loss, each point labelled with its mode: a class-conditional mlp "
           "(cGAN input, class-biased projection D), G's moving average (--ema 0.999) asked for each mode "
           "in turn", data_options={"labels": "modes"}, ema=0.999),
)}


def get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")
    return RECIPES[name]
