"""Random streams named by numbers (a seed, an epoch, a batch, a process), so that what a stream
draws depends on what it is for, not on how many draws came before it or which process makes them."""

from __future__ import annotations

import numpy as np


def derived_seed(*parts: int) -> int:
    """A seed for torch.Generator.manual_seed from non-negative integers; distinct parts give
    independent streams (numpy's SeedSequence hashing)."""
    return int(
        np.random.SeedSequence([int(part) for part in parts]).generate_state(1, dtype=np.uint64)[0]
        >> 1
    )
