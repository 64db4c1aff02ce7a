"""The faces default run under each training recipe of `pygan bench quality --recipe` (the loss,
its regularisers and its paper's optimiser settings): same seed, same steps, then pixel Frechet
distance and KID against the data (`pygan evaluate`), D's outputs over training and the last
sample grids side by side.

    python benchmarks/faces_recipes.py [--image-size 32] [--epochs 25] [--jobs 2]
                                       [--variants hinge,hinge-sn] [--out benchmarks/faces-recipes-32px]

Each variant adds its recipe's flags (pygan/bench/recipes.py) to `pygan train --arch dcgan
--plugin faces`; the non-saturating recipe is the default run. With --jobs 2 two runs train at
once, one thread each. Writes OUT.json (every number), OUT.png and OUT-grids.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the sibling script's train-measure-plot loop

from faces_augment import compare

from pygan.bench.recipes import RECIPES

VARIANTS = {name: recipe.flags().split() for name, recipe in RECIPES.items()}

if __name__ == "__main__":
    compare(VARIANTS, __doc__.splitlines()[0], "benchmarks/faces-recipes-32px")
