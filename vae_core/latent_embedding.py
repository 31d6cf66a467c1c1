"""A 2-D map of codes above two dimensions by t-SNE (openTSNE), for the latent map's plane choice.

openTSNE was chosen over umap-learn by their cost on this 2-core machine (benchmarks/bench_embedding.py,
measured with other work running): openTSNE with scipy and scikit-learn adds about 180 MB and a
1.0 s import, and mapped 2,000 codes in 27 s; umap-learn adds numba and llvmlite besides (a fresh
environment of 510 MB), a 29 s import, and took 39 s for its first 2,000 (compiling), 17 s after
(random clusters of 20-D codes, load average about 3.5). t-SNE has no decoder: a point of its map decodes as
the code it came from, and the map's tiles and cursor stay with the planes that have one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vae_core.errors import VaeStudioError

# Points a map is made of: t-SNE's cost grows with them (3.1 s for 500 MNIST codes, 4.5 s for
# 1,000 and 14 s for 2,000 on 2 cores at a load average of 5).
MAX_POINTS = 2000
_LEAST_POINTS = 5
_PERPLEXITY = 30.0


class EmbeddingCancelled(Exception):
    """The caller asked for the map to stop (a newer request superseded it)."""


def tsne_map(
    codes: np.ndarray,
    seed: int = 0,
    cancelled: Callable[[], bool] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """The codes (N, D) placed on a plane by t-SNE: (N, 2). `cancelled` is asked every 25
    iterations; when it says so the map stops with EmbeddingCancelled."""
    from openTSNE import TSNE  # a 1 s import (scipy, scikit-learn): paid by the first map only

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < _LEAST_POINTS:
        raise VaeStudioError(f"a t-SNE map needs at least {_LEAST_POINTS} codes, got {len(codes)}")
    if len(codes) > MAX_POINTS:
        raise VaeStudioError(f"a t-SNE map takes at most {MAX_POINTS:,} codes, got {len(codes):,}")
    if not np.isfinite(codes).all():
        raise VaeStudioError("a t-SNE map needs finite codes")

    def stop_if_cancelled(_iteration, _error, _embedding) -> bool:
        if cancelled is not None and cancelled():
            raise EmbeddingCancelled
        return False

    tsne = TSNE(
        perplexity=min(_PERPLEXITY, (len(codes) - 1) / 3),
        random_state=seed,
        n_jobs=threads,
        callbacks=stop_if_cancelled,
        callbacks_every_iters=25,
    )
    return np.asarray(tsne.fit(codes), dtype=np.float64)


EMBEDDINGS: dict[str, Callable[..., np.ndarray]] = {"t-SNE": tsne_map}
