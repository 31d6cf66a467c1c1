"""Vector quantisation (van den Oord et al., 2017): each encoder vector is replaced by the
nearest of K codebook vectors, with the straight-through gradient."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vae_core.distributed import current_team
from vae_core.errors import VaeStudioError

# A code is dead when chosen at under this share of the uniform rate 1/K (moving average).
DEAD_CODE_SHARE = 0.03
# Decay of the moving average of each code's share of assignments: a code never chosen
# falls below DEAD_CODE_SHARE in ~170 steps.
USAGE_DECAY = 0.98
# Additive smoothing of EMA cluster sizes, so an empty cluster does not divide by zero.
EMA_EPSILON = 1e-5


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of the codes' empirical distribution from counts (K,): K when all are chosen
    equally often, 1 when one code is chosen always."""
    probabilities = counts / counts.sum()
    entropy = -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum()
    return entropy.exp()


def codebook_usage(counts: torch.Tensor) -> torch.Tensor:
    """The share of the K codes chosen at least once."""
    return (counts > 0).float().mean()


@dataclass
class Quantized:
    indices: torch.Tensor  # (B, N) the chosen codes
    codes: (
        torch.Tensor
    )  # (B, N, D) their vectors, with the encoder's gradient passed straight through
    codebook_loss: torch.Tensor  # (B,) ||sg(z_e) - e||², zero when the codebook follows EMAs
    commitment_loss: torch.Tensor  # (B,) ||z_e - sg(e)||²


class VectorQuantizer(nn.Module):
    def __init__(
        self, codebook_size: int, code_dim: int, ema_decay: float | None, reset_dead_codes: bool
    ):
        super().__init__()
        if codebook_size < 2:
            raise VaeStudioError(f"a codebook needs at least 2 codes, got {codebook_size}")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise VaeStudioError(f"the EMA decay must be between 0 and 1, got {ema_decay}")
        self.codebook_size = codebook_size
        self.ema_decay = ema_decay
        self.reset_dead_codes = reset_dead_codes
        initial = torch.empty(codebook_size, code_dim).uniform_(
            -1 / codebook_size, 1 / codebook_size
        )
        if ema_decay is None:
            self.codebook = nn.Parameter(initial)
        else:
            # Moved by averages, not by the optimiser: a buffer, saved with the weights.
            self.register_buffer("codebook", initial)
            self.register_buffer("cluster_size", torch.ones(codebook_size))
            self.register_buffer("vector_sum", initial.clone())
        self.register_buffer("usage", torch.full((codebook_size,), 1 / codebook_size))
        # The first training step replaces every code by an encoder output (a data-dependent start).
        self.register_buffer("initialised", torch.tensor(False))

    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook vector: (..., D) -> (...)."""
        flat = vectors.detach().reshape(-1, vectors.shape[-1])
        # ||v - e||² = ||v||² - 2 v·e + ||e||²; ||v||² is the same for every code.
        distances = self.codebook.detach().square().sum(-1) - 2 * flat @ self.codebook.detach().T
        return distances.argmin(-1).view(vectors.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.codebook)

    def forward(self, encoded: torch.Tensor) -> Quantized:
        """Quantise encoder output (B, N, D)."""
        indices = self.nearest(encoded)
        chosen = self.lookup(indices)
        commitment = (encoded - chosen.detach()).square().flatten(1).sum(-1)
        if self.ema_decay is None:
            codebook_loss = (encoded.detach() - chosen).square().flatten(1).sum(-1)
        else:
            codebook_loss = torch.zeros_like(commitment)
        # Forward: the codebook vector; backward: the gradient w.r.t. the code goes to the encoder.
        straight_through = encoded + (chosen - encoded).detach()
        return Quantized(indices, straight_through, codebook_loss, commitment)

    def counts(self, indices: torch.Tensor) -> torch.Tensor:
        """How often each code was chosen: (K,) floats."""
        return torch.bincount(indices.flatten(), minlength=self.codebook_size).float()

    @torch.no_grad()
    def update(self, encoded: torch.Tensor, indices: torch.Tensor, generator=None) -> None:
        """After a training step's forward pass: EMA codebook, usage averages, dead-code resets."""
        flat = encoded.detach().reshape(-1, encoded.shape[-1])
        flat_indices = indices.flatten()
        # Under torchrun the statistics are those of every process's batch (one all-reduce), so
        # that the codebook, its usage and the dead codes stay the same in every process.
        sums = self.usage.new_zeros(self.codebook_size, flat.shape[-1]).index_add_(
            0, flat_indices, flat.float()
        )
        statistics = current_team().sum_(torch.cat([self.counts(flat_indices)[:, None], sums], 1))
        counts, sums = statistics[:, 0], statistics[:, 1:]
        if self.ema_decay is not None:
            decay = self.ema_decay
            self.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
            self.vector_sum.mul_(decay).add_(sums, alpha=1 - decay)
            total = self.cluster_size.sum()
            smoothed = (
                (self.cluster_size + EMA_EPSILON)
                / (total + self.codebook_size * EMA_EPSILON)
                * total
            )
            self.codebook.copy_(self.vector_sum / smoothed[:, None])
        self.usage.mul_(USAGE_DECAY).add_(counts / counts.sum(), alpha=1 - USAGE_DECAY)
        if self.reset_dead_codes:
            self._reset_dead(flat, generator)

    @torch.no_grad()
    def reseed(
        self, codes, encoded: torch.Tensor, generator: torch.Generator | None = None
    ) -> None:
        """Move the codebook vectors `codes` (indices) onto encoder outputs drawn at random from
        `encoded` (..., D); their usage starts again from the uniform rate, as after a dead-code reset."""
        index = torch.as_tensor(codes, dtype=torch.int64, device=self.codebook.device).flatten()
        if len(index) == 0:
            return
        if int(index.min()) < 0 or int(index.max()) >= self.codebook_size:
            raise VaeStudioError(
                f"code indices must be in 0..{self.codebook_size - 1}, got {index.tolist()}"
            )
        flat = encoded.detach().reshape(-1, encoded.shape[-1]).to(self.codebook)
        replacement = flat[
            torch.randint(len(flat), (len(index),), generator=generator, device=flat.device)
        ]
        self.codebook[index] = replacement
        self.usage[index] = 1 / self.codebook_size
        if self.ema_decay is not None:
            self.cluster_size[index] = 1.0
            self.vector_sum[index] = replacement

    def _reset_dead(self, flat: torch.Tensor, generator) -> None:
        # Without a host round trip: every code draws a replacement, the live ones keep theirs.
        dead = (self.usage < DEAD_CODE_SHARE / self.codebook_size) | ~self.initialised  # (K,)
        replacement = flat[
            torch.randint(len(flat), (self.codebook_size,), generator=generator, device=flat.device)
        ]
        current_team().broadcast_(replacement)  # the leader's draws, in every process
        self.codebook.copy_(torch.where(dead[:, None], replacement, self.codebook))
        self.usage.copy_(torch.where(dead, 1 / self.codebook_size, self.usage))
        if self.ema_decay is not None:
            self.cluster_size.copy_(torch.where(dead, 1.0, self.cluster_size))
            self.vector_sum.copy_(torch.where(dead[:, None], replacement, self.vector_sum))
        self.initialised.fill_(True)
