"""A 2-D map of codes above two dimensions by t-SNE (openTSNE), for the latent map's plane choice.

openTSNE was chosen over umap-learn by their cost (benchmarks/bench_embedding.py and
bench_umap.py; the README's "Maps of latents above 2-D" has the figures): on 2,000 codes
umap-learn's later maps take less CPU, but the first of each session twice as much (numba
compiles) and it brings 213 MB more packages. t-SNE has no decoder: a point of its map decodes as
the code it came from, and the map's tiles and cursor stay with the planes that have one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vae_core.errors import VaeStudioError

# Points a map is made of: t-SNE's cost grows with them (1.0, 2.9 and 6.4 s of one core's time
# for 500, 1,000 and 2,000 MNIST codes).
MAX_POINTS = 2000
_LEAST_POINTS = 5
_PERPLEXITY = 30.0
# The optimisation's callbacks (cancel, progress) run every this many iterations.
_CALLBACK_EVERY = 25


class EmbeddingCancelled(Exception):
    """The caller asked for the map to stop (a newer request superseded it)."""


def tsne_map(
    codes: np.ndarray,
    seed: int = 0,
    cancelled: Callable[[], bool] | None = None,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The codes (N, D) placed on a plane by t-SNE: (N, 2). Every 25 iterations `cancelled` is
    asked (when it says so the map stops with EmbeddingCancelled) and `progress` told the
    iterations done and in all."""
    from openTSNE import TSNE  # a 1 s import (scipy, scikit-learn): paid by the first map only

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < _LEAST_POINTS:
        raise VaeStudioError(f"a t-SNE map needs at least {_LEAST_POINTS} codes, got {len(codes)}")
    if len(codes) > MAX_POINTS:
        raise VaeStudioError(f"a t-SNE map takes at most {MAX_POINTS:,} codes, got {len(codes):,}")
    if not np.isfinite(codes).all():
        raise VaeStudioError("a t-SNE map needs finite codes")

    done = 0

    # The optimisation runs in two phases, each counting its iterations from 1: count the calls.
    def checkpoint(_iteration, _error, _embedding) -> bool:
        nonlocal done
        if cancelled is not None and cancelled():
            raise EmbeddingCancelled
        total = tsne.early_exaggeration_iter + tsne.n_iter
        done = min(done + _CALLBACK_EVERY, total)
        if progress is not None:
            progress(done, total)
        return False

    tsne = TSNE(
        perplexity=min(_PERPLEXITY, (len(codes) - 1) / 3),
        random_state=seed,
        n_jobs=threads,
        callbacks=checkpoint,
        callbacks_every_iters=_CALLBACK_EVERY,
    )
    return np.asarray(tsne.fit(codes), dtype=np.float64)


EMBEDDINGS: dict[str, Callable[..., np.ndarray]] = {"t-SNE": tsne_map}


@dataclass(frozen=True)
class EmbeddingRequest:
    """The map's codes to place on a plane by `method` (a key of EMBEDDINGS), and the weights'
    generation that encoded them."""

    codes: np.ndarray  # (N, D)
    generation: int
    method: str = "t-SNE"
    seed: int = 0


def embed_codes(request: EmbeddingRequest, control) -> np.ndarray | None:
    """A worker's job: the request's codes placed on a plane (N, 2), or None once `control`
    (`stopped()`, `progress(done, total)`) says a newer request superseded it."""
    try:
        return EMBEDDINGS[request.method](
            request.codes,
            seed=request.seed,
            cancelled=control.stopped,
            progress=control.progress,
        )
    except EmbeddingCancelled:
        return None
