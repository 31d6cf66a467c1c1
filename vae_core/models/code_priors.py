"""Priors over the code indices of a VQ-VAE, by name: what it samples from to generate.

Each is trained on the indices the encoder currently chooses (which carry no gradient to the
encoder), alongside the autoencoder or afterwards (`vae_core.training.code_prior.fit_code_prior`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CategoricalCodePrior(nn.Module):
    """An independent categorical distribution at each position."""

    def __init__(self, positions: int, codebook_size: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(positions, codebook_size))

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B,)."""
        log_probabilities = torch.log_softmax(self.logits, dim=-1)  # (N, K)
        return log_probabilities.gather(1, indices.T).T.sum(-1)

    @torch.no_grad()
    def sample(self, count: int, generator=None) -> torch.Tensor:
        probabilities = torch.softmax(self.logits, dim=-1)
        return torch.multinomial(
            probabilities, count, replacement=True, generator=generator
        ).T  # (count, N)


class AutoregressiveCodePrior(nn.Module):
    """p(k_1..k_N) = Π_n p(k_n | k_<n): a small causal transformer over the positions in raster order."""

    width = 64
    heads = 4
    layers = 2

    def __init__(self, positions: int, codebook_size: int):
        super().__init__()
        self.positions = positions
        self.start = nn.Parameter(torch.zeros(self.width))
        self.code_embedding = nn.Embedding(codebook_size, self.width)
        self.position_embedding = nn.Parameter(0.02 * torch.randn(positions, self.width))
        layer = nn.TransformerEncoderLayer(
            self.width, self.heads, 2 * self.width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.body = nn.TransformerEncoder(layer, self.layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(self.width), nn.Linear(self.width, codebook_size))

    def _logits(self, prefix: torch.Tensor) -> torch.Tensor:
        """Logits of every next index given a prefix (B, t), t < N: (B, t + 1, K)."""
        start = self.start.expand(len(prefix), 1, self.width)
        inputs = torch.cat([start, self.code_embedding(prefix)], dim=1)
        length = inputs.shape[1]
        inputs = inputs + self.position_embedding[:length]
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=inputs.device)
        return self.head(self.body(inputs, mask=mask, is_causal=True))

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        logits = self._logits(indices[:, :-1])  # (B, N, K)
        return -F.cross_entropy(logits.transpose(1, 2), indices, reduction="none").sum(-1)

    @torch.no_grad()
    def sample(self, count: int, generator=None) -> torch.Tensor:
        indices = torch.zeros(count, 0, dtype=torch.long, device=self.start.device)
        for _ in range(self.positions):
            probabilities = torch.softmax(self._logits(indices)[:, -1], dim=-1)
            chosen = torch.multinomial(probabilities, 1, generator=generator)
            indices = torch.cat([indices, chosen], dim=1)
        return indices


CODE_PRIORS: dict[str, type[nn.Module]] = {
    "categorical": CategoricalCodePrior,
    "autoregressive": AutoregressiveCodePrior,
}
