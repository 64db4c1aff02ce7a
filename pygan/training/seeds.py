"""The random streams a run derives from --seed, each a seeded torch.Generator of its own, so one
stream's use never shifts another's (and each is saved in the checkpoint)."""

Z, FIXED_NOISE, AUGMENT, PENALTY, LABELS = 1, 2, 3, 4, 5  # offsets added to --seed


def data_order(seed: int, epoch: int) -> int:
    """The seed of an epoch's shuffle: a function of (seed, epoch) alone, so a resumed run continues it."""
    return seed * 1_000_003 + epoch
