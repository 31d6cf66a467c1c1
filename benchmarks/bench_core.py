"""The core's training speed against a plain hand-written PyTorch loop of the same model.

Same model (MLP 784-400-20, Bernoulli likelihood), batch 128, data (MNIST when
../shared/data/mnist exists, else the built-in glyphs) and dynamic binarisation. The two run in
alternating rounds in one process, so machine noise hits both alike; the figure is the median
images/s of each and their ratio (core / plain).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from _common import MNIST_DIR, write_results
from torch import nn

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.training.trainer import Trainer


class PlainVAE(nn.Module):
    """The model as one writes it by hand (the PyTorch examples' VAE)."""

    def __init__(self, pixels=784, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mean, log_var = self.fc21(h), self.fc22(h)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return self.fc4(F.relu(self.fc3(z))), mean, log_var


def plain_loop(images: torch.Tensor, steps: int, batch_size: int, seed: int) -> float:
    """Images per second of `steps` steps of the hand-written loop."""
    torch.manual_seed(seed)
    model = PlainVAE(pixels=images[0].numel())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    flat = images.view(len(images), -1)
    order = torch.randperm(len(flat))
    position = 0
    start = time.perf_counter()
    for _ in range(steps):
        if position + batch_size > len(flat):
            order, position = torch.randperm(len(flat)), 0
        x = flat[order[position : position + batch_size]].float().div_(255)
        position += batch_size
        x = (torch.rand_like(x) < x).float()
        logits, mean, log_var = model(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
        loss = (recon + kl) / len(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def core_loop(config: RunConfig, data, steps: int) -> float:
    trainer = Trainer(config, data)
    start = time.perf_counter()
    for _ in trainer.run():
        pass
    return steps * config.train.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    arguments = parser.parse_args()

    data_config = (
        DataConfig(dataset="mnist", data_dir=str(MNIST_DIR)) if MNIST_DIR.is_dir() else DataConfig()
    )
    data = load_data(data_config)
    batch_size = 128
    config = RunConfig(
        data=data_config,
        model=ModelConfig(arch="mlp", hidden=(400,), latent_dim=20),
        train=TrainConfig(
            batch_size=batch_size, lr=1e-3, max_steps=arguments.steps, log_every=100, device="cpu"
        ),
    )
    plain, core = [], []
    for round_index in range(arguments.rounds):
        plain.append(plain_loop(data.train.images, arguments.steps, batch_size, seed=round_index))
        core.append(core_loop(config, data, arguments.steps))
        print(f"round {round_index + 1}: plain {plain[-1]:,.0f} img/s, core {core[-1]:,.0f} img/s")
    plain_median, core_median = statistics.median(plain), statistics.median(core)
    ratio = core_median / plain_median
    print(
        f"data {data.train.name}, batch {batch_size}, {arguments.steps} steps x {arguments.rounds} rounds"
    )
    print(
        f"median images/s: plain loop {plain_median:,.0f}, core {core_median:,.0f}; ratio core/plain {ratio:.3f}"
    )
    write_results(
        "core",
        {
            "dataset": data.train.name,
            "batch_size": batch_size,
            "steps": arguments.steps,
            "rounds": arguments.rounds,
            "plain_images_per_s": plain,
            "core_images_per_s": core,
            "plain_median": plain_median,
            "core_median": core_median,
            "ratio_core_over_plain": ratio,
        },
    )


if __name__ == "__main__":
    main()
