"""The t-SNE map of codes above 2-D: neighbours stay neighbours, a seed repeats it, a newer
request stops it, and codes it cannot map are one line."""

from __future__ import annotations

import numpy as np
import pytest

from vae_core.errors import VaeStudioError
from vae_core.latent_embedding import (
    MAX_POINTS,
    EmbeddingCancelled,
    EmbeddingRequest,
    embed_codes,
    tsne_map,
)


def _two_clusters(count=120, dim=6):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(count, dim))
    codes[: count // 2] += 8.0
    return codes


def test_two_clusters_in_the_codes_are_two_clusters_on_the_map():
    codes = _two_clusters()
    placed = tsne_map(codes, seed=1)
    assert placed.shape == (len(codes), 2)
    first, second = placed[:60], placed[60:]
    gap = np.linalg.norm(first.mean(0) - second.mean(0))
    spread = max(first.std(0).max(), second.std(0).max())
    assert gap > 3 * spread


def test_one_seed_gives_one_map():
    codes = _two_clusters(40)
    assert np.array_equal(tsne_map(codes, seed=3), tsne_map(codes, seed=3))


def test_a_cancelled_map_stops():
    asked = []

    def cancelled():
        asked.append(True)
        return True

    with pytest.raises(EmbeddingCancelled):
        tsne_map(_two_clusters(40), cancelled=cancelled)
    assert len(asked) == 1


def test_progress_counts_both_phases_up_to_all_iterations():
    reports = []
    tsne_map(_two_clusters(40), progress=lambda done, total: reports.append((done, total)))
    # openTSNE's defaults: 250 iterations of early exaggeration, then 500, reported every 25.
    assert reports == [(25 * (call + 1), 750) for call in range(30)]


class _Control:
    def __init__(self, stop_after: int):
        self.reports = []
        self._stop_after = stop_after

    def stopped(self) -> bool:
        return len(self.reports) >= self._stop_after

    def progress(self, done, total) -> None:
        self.reports.append(done)


def test_a_job_answers_the_map_or_nothing_once_superseded():
    codes = _two_clusters(40)
    request = EmbeddingRequest(codes, generation=7, seed=3)
    np.testing.assert_array_equal(embed_codes(request, _Control(10**6)), tsne_map(codes, seed=3))
    superseded = _Control(stop_after=2)
    assert embed_codes(request, superseded) is None
    assert superseded.reports == [25, 50]


@pytest.mark.parametrize(
    "codes, message",
    [
        (np.zeros((3, 4)), "at least 5"),
        (np.zeros((MAX_POINTS + 1, 3)), "at most"),
        (np.full((10, 3), np.nan), "finite"),
    ],
)
def test_codes_it_cannot_map_are_one_line(codes, message):
    with pytest.raises(VaeStudioError, match=message):
        tsne_map(codes)
