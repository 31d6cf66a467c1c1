import copy
import subprocess
import sys

import pytest
import torch

from vae_core.errors import VaeStudioError
from vae_core.training.optimizer import Adam


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _train(model, optimizer, steps: int, seed: int, lr_from_step: dict[int, float] | None = None) -> None:
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        if lr_from_step and step in lr_from_step:
            optimizer.set_lr(lr_from_step[step])
        inputs = torch.randn(32, 6, generator=generator)
        loss = (model(inputs) - inputs[:, :3].sin()).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


class _TorchAdam:
    """torch.optim.Adam(fused=True), the reference, behind the same three calls."""

    def __init__(self, parameters, lr):
        self.optimizer = torch.optim.Adam(parameters, lr=lr, fused=True)

    def set_lr(self, lr):
        self.optimizer.param_groups[0]["lr"] = lr

    def zero_grad(self):
        self.optimizer.zero_grad(set_to_none=True)

    def step(self):
        self.optimizer.step()

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state)


class _OwnAdam(Adam):
    def set_lr(self, lr):
        self.lr = lr


def test_updates_equal_torch_optim_adam_bit_for_bit():
    reference_model, model = _model(), _model()
    schedule = {20: 3e-3}  # a learning-rate change mid-run, as the window's spin box makes
    _train(reference_model, _TorchAdam(reference_model.parameters(), lr=1e-2), 40, seed=1, lr_from_step=schedule)
    _train(model, _OwnAdam(model.parameters(), lr=1e-2), 40, seed=1, lr_from_step=schedule)
    for reference, parameter in zip(reference_model.parameters(), model.parameters()):
        assert torch.equal(reference, parameter)


def test_parameters_without_gradients_are_left_alone():
    used, unused = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    optimizer = Adam([used, unused], lr=0.1)
    (used * torch.tensor([1.0, -2.0, 0.0])).sum().backward()
    optimizer.step()
    # Adam's first step moves every coordinate by lr against the sign of its gradient.
    assert torch.allclose(used.detach(), torch.tensor([0.9, 1.1, 1.0]), atol=1e-6)
    assert torch.equal(unused.detach(), torch.ones(3)) and list(optimizer.state) == [0]


@pytest.mark.parametrize("first, then", [(_TorchAdam, _OwnAdam), (_OwnAdam, _TorchAdam)], ids=["torch-to-own", "own-to-torch"])
def test_state_hands_over_between_torch_optim_adam_and_this_one(first, then):
    """Checkpoints written with torch.optim.Adam resume with this class, and its resume with torch's
    (learning rate included: the second optimizer starts with another)."""
    model = _model()
    optimizer = first(model.parameters(), lr=1e-2)
    _train(model, optimizer, 15, seed=2)
    handed_model = copy.deepcopy(model)
    handed = then(handed_model.parameters(), lr=1.0)
    handed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    _train(model, optimizer, 15, seed=3)
    _train(handed_model, handed, 15, seed=3)
    for expected, parameter in zip(model.parameters(), handed_model.parameters()):
        assert torch.equal(expected, parameter)


def test_state_of_another_model_or_malformed_is_refused_with_a_value_error():
    """ValueError, as torch.optim raises: the resume paths add the checkpoint's name to it."""
    model = _model()
    optimizer = Adam(model.parameters(), lr=1e-3)
    _train(model, optimizer, 1, seed=0)
    saved = optimizer.state_dict()
    wider = torch.nn.Sequential(torch.nn.Linear(6, 17), torch.nn.Tanh(), torch.nn.Linear(17, 3))
    with pytest.raises(ValueError, match="parameter 0 does not fit"):
        Adam(wider.parameters(), lr=1e-3).load_state_dict(saved)
    with pytest.raises(ValueError, match="is for 4 parameters, this model has 2"):
        Adam(list(model.parameters())[:2], lr=1e-3).load_state_dict(saved)
    for groups in ([], [{}], None, [{"params": [0, 1, 2, 3], "lr": "fast", "betas": (0.9, 0.99), "eps": 1e-8}]):
        with pytest.raises(ValueError, match="not those of a one-group Adam"):
            Adam(model.parameters(), lr=1e-3).load_state_dict({"state": {}, "param_groups": groups})
    bad_step = copy.deepcopy(saved)
    bad_step["state"][0]["step"] = torch.ones(2)
    with pytest.raises(ValueError, match="parameter 0 does not fit"):
        Adam(model.parameters(), lr=1e-3).load_state_dict(bad_step)


def test_parameters_on_two_dtypes_are_refused():
    with pytest.raises(VaeStudioError, match="one device and one dtype"):
        Adam([torch.zeros(2, requires_grad=True), torch.zeros(2, dtype=torch.float64, requires_grad=True)], lr=1e-3)


def test_training_never_imports_the_compiler_stack():
    """torch.optim imports torch._dynamo at its first step, 1.9 s of the window's cold start."""
    code = (
        "import sys\n"
        "from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig\n"
        "from vae_core.data import load_data\n"
        "from vae_core.training.trainer import Trainer\n"
        "config = RunConfig(data=DataConfig(dataset='glyphs', size=200), model=ModelConfig(hidden=(16,), latent_dim=2),\n"
        "                   train=TrainConfig(batch_size=50, max_steps=5, log_every=5, device='cpu'))\n"
        "snapshots = list(Trainer(config, load_data(config.data)).run())\n"
        "assert snapshots[-1].step == 5\n"
        "sys.exit(1 if 'torch._dynamo' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
