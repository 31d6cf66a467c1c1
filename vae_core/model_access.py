"""A model asked only for numpy answers: the explorer's decodes and the theory views' figures.

Every call runs under `torch.no_grad()` on the CPU, in eval mode, single-threaded. The
explorer's model is never the one training mutates: weights arrive as copies and are loaded
between decodes.

A "code" here is what one point of the map stands for: the posterior mean's D numbers for the
Gaussian families, and for a VQ-VAE the whole pre-quantisation code, N positions of D numbers
flattened to N*D (decoding snaps each position to its nearest codebook vector).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import torch

from vae_core.data import ImageDataset
from vae_core.latent import to_uint8_images
from vae_core.models import LatentModel

# Images encoded per call when a whole data set goes through the encoder.
ENCODE_CHUNK = 500


@contextmanager
def _small_work():
    """No gradients. Torch's thread count is left alone: setting it from the GUI thread changes
    it for the whole process, the training thread included (the session sets it once)."""
    with torch.no_grad():
        yield


def dataset_images(data: ImageDataset, indices) -> np.ndarray:
    """uint8 display images (N, H, W[, C]) straight from the data set's pixels."""
    images = data.images[torch.as_tensor(np.asarray(indices), dtype=torch.int64)]
    return to_uint8_images(images.float().div_(255.0).numpy())


class ExplorerModel:
    """Decode codes to uint8 images, encode images to posteriors, read the prior's density."""

    def __init__(self, model: LatentModel):
        self.model = model.cpu().eval()
        self.model.requires_grad_(False)
        config = model.config
        self.image_shape = tuple(config.input_shape)
        self.num_classes = int(config.num_classes)
        self.family = config.family
        self.capabilities = capabilities = model.capabilities
        self.conditional = capabilities.conditional
        # Vector-quantised families: a codebook, and N code vectors per image.
        self.quantizer = model.quantizer if capabilities.has_codebook else None
        self.positions = capabilities.positions
        self.code_dim = int(config.latent_dim)
        self.latent_dim = self.positions * self.code_dim
        # 2-D points rather than images: decoded into data space, not into pictures.
        self.planar = self.image_shape == (2, 1, 1)

    @property
    def quantized(self) -> bool:
        return self.quantizer is not None

    @property
    def prior_is_learned(self) -> bool:
        """Whether the prior's density moves with the weights (a mixture, a VampPrior)."""
        return self.capabilities.learned_prior

    @_small_work()
    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    def _labels(self, label, count: int):
        if not self.conditional:
            return None
        if label is None:
            label = 0
        if np.ndim(label) == 0:
            return torch.full((count,), int(label), dtype=torch.int64)
        return torch.as_tensor(np.asarray(label), dtype=torch.int64)

    def _latent(self, codes) -> torch.Tensor:
        codes = np.asarray(codes)
        if codes.shape[-1] != self.latent_dim:
            raise ValueError(
                f"codes of {codes.shape[-1]} numbers for a model with {self.latent_dim}"
            )
        z = torch.as_tensor(codes, dtype=torch.float32).reshape(-1, self.latent_dim)
        return z.view(-1, self.positions, self.code_dim) if self.quantized else z

    def _flat(self, encoded: torch.Tensor) -> np.ndarray:
        return encoded.reshape(len(encoded), -1).double().numpy()

    @_small_work()
    def decode(self, codes: np.ndarray, label=None) -> np.ndarray:
        """Codes (N, latent_dim) -> images uint8 (N, H, W) or (N, H, W, C); `label` one class or one per code."""
        z = self._latent(codes)
        return to_uint8_images(self.model.decode_mean(z, self._labels(label, len(z))).numpy())

    @_small_work()
    def decode_values(self, codes: np.ndarray, label=None) -> np.ndarray:
        """Codes (N, latent_dim) -> the decoder's means as they are, flattened: (N, C*H*W) floats."""
        z = self._latent(codes)
        return (
            self.model.decode_mean(z, self._labels(label, len(z)))
            .reshape(len(z), -1)
            .double()
            .numpy()
        )

    @_small_work()
    def reconstruct_values(
        self, images: torch.Tensor, labels: torch.Tensor | None = None
    ) -> np.ndarray:
        """The decoded posterior means, as `decode_values` gives them."""
        mean, _ = self.posterior(images, labels)
        return self.decode_values(mean, None if labels is None else labels.numpy())

    @_small_work()
    def sample_values(self, count: int, label=None, seed: int = 0) -> np.ndarray:
        """Draws from the model, flattened: (count, C*H*W) floats."""
        generator = torch.Generator().manual_seed(seed)
        label = (0 if label is None else int(label)) if self.conditional else None
        return (
            self.model.sample(count, label, generator=generator).reshape(count, -1).double().numpy()
        )

    @_small_work()
    def posterior(
        self, images: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Means and standard deviations (N, latent_dim) of q(z|x); a deterministic encoder has zero spread."""
        if self.quantized:
            mean = self._flat(self.model.encode(images))
            return mean, np.zeros_like(mean)
        posterior = self.model.encode(images, labels if self.conditional else None)
        return posterior.mean.double().numpy(), posterior.std.double().numpy()

    @_small_work()
    def kl_of(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray | None:
        """Each example's KL per latent dimension (N, D), or None where it is not per code number."""
        if self.quantized:
            return None
        generator = torch.Generator().manual_seed(0)
        terms = self.model.elbo_terms(images, labels if self.conditional else None, generator)
        return terms["kl_per_dim"].double().numpy()

    @_small_work()
    def embed_dataset(self, data: ImageDataset, start: int, stop: int) -> np.ndarray:
        """The codes (stop - start, latent_dim) of a slice of the data set: posterior means."""
        images, labels = data.batch(torch.arange(start, stop))
        return self.posterior(images, labels)[0]

    @_small_work()
    def kl_per_dim(self, data: ImageDataset, limit: int = 1000) -> np.ndarray | None:
        """The mean KL per latent dimension (D,) over the first `limit` examples."""
        count = min(limit, len(data))
        if self.quantized or count == 0:
            return None
        total = np.zeros(self.latent_dim)
        for start in range(0, count, ENCODE_CHUNK):
            images, labels = data.batch(torch.arange(start, min(start + ENCODE_CHUNK, count)))
            total += self.kl_of(images, labels).sum(0)
        return total / count

    @_small_work()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
        """The decoded posterior means: uint8 images."""
        mean, _ = self.posterior(images, labels)
        return self.decode(mean, None if labels is None else labels.numpy())

    @_small_work()
    def prior_log_density(self, codes: np.ndarray) -> np.ndarray | None:
        """log p(z) at each code (N,), or None for a family without a density over codes."""
        prior = self.model.prior_module()
        if prior is None:
            return None
        return prior.log_prob(self._latent(codes)).double().numpy()

    @_small_work()
    def sample(self, count: int, label=None, seed: int = 0) -> np.ndarray:
        """Images generated from the prior, of class `label` for a conditional model."""
        generator = torch.Generator().manual_seed(seed)
        label = (0 if label is None else int(label)) if self.conditional else None
        return to_uint8_images(self.model.sample(count, label, generator=generator).numpy())

    # Vector-quantised families only.
    def codebook(self) -> np.ndarray:
        """The K codebook vectors (K, D)."""
        return self.quantizer.codebook.detach().double().numpy().copy()

    @_small_work()
    def code_indices(self, codes: np.ndarray) -> np.ndarray:
        """The nearest codebook index at each position: (M, latent_dim) -> (M, N)."""
        return self.quantizer.nearest(self._latent(codes)).numpy()

    @_small_work()
    def decode_indices(self, indices: np.ndarray) -> np.ndarray:
        """Images from codebook indices (M, N)."""
        return to_uint8_images(
            self.model.decode_indices(torch.as_tensor(indices, dtype=torch.int64)).numpy()
        )

    @_small_work()
    def replace_codes(self, dead: np.ndarray, replacements: np.ndarray) -> None:
        """Move the codebook vectors `dead` (indices) onto `replacements` (len(dead), D)."""
        index = torch.as_tensor(dead, dtype=torch.int64)
        values = torch.as_tensor(replacements, dtype=self.quantizer.codebook.dtype)
        self.quantizer.codebook[index] = values

    def reseed_codes(self, dead, codes: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
        """Move the codebook vectors `dead` onto code vectors drawn from `codes` (N, positions * D);
        the edited weights, a copy."""
        vectors = codes.reshape(-1, self.code_dim)
        generator = np.random.default_rng(seed)
        picks = generator.choice(len(vectors), size=len(dead), replace=len(vectors) < len(dead))
        self.replace_codes(np.asarray(dead), vectors[picks])
        return {name: value.clone() for name, value in self.model.state_dict().items()}
