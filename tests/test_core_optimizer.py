import copy
import subprocess
import sys

import pytest
import torch

from vae_core.checkpoint import load_checkpoint, save_checkpoint
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.training import optimizer as optimizer_module
from vae_core.training.optimizer import load_adam_state, make_adam


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _train(model, optimizer, steps: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        inputs = torch.randn(32, 6, generator=generator)
        loss = (model(inputs) - inputs[:, :3].sin()).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _without_fused_adam(monkeypatch) -> None:
    """As on a device or a torch for which Adam has no fused kernel."""
    monkeypatch.setattr(optimizer_module, "_fused_adam_runs", lambda device, dtype: False)


def test_adam_is_fused_where_its_kernel_runs_and_torch_default_elsewhere(monkeypatch):
    assert optimizer_module._fused_adam_runs(torch.device("cpu"), torch.float32)
    assert not optimizer_module._fused_adam_runs(torch.device("meta"), torch.float32)  # no kernels at all
    assert make_adam(_model().parameters(), lr=1e-3).param_groups[0]["fused"] is True
    _without_fused_adam(monkeypatch)
    assert not make_adam(_model().parameters(), lr=1e-3).param_groups[0]["fused"]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "fallback"])
def test_a_learning_rate_set_between_steps_moves_the_next_step(fused, monkeypatch):
    if not fused:
        _without_fused_adam(monkeypatch)
    used, unused = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    optimizer = make_adam([used, unused], lr=0.1)
    # Under a constant gradient Adam's every step moves each coordinate by lr against its sign.
    for lr in (0.1, 0.01):
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        (used * torch.tensor([1.0, -2.0, 0.0])).sum().backward()
        optimizer.step()
    assert torch.allclose(used.detach(), torch.tensor([0.89, 1.11, 1.0]), atol=1e-6)
    assert torch.equal(unused.detach(), torch.ones(3))  # no gradient, no update


def test_the_fallback_trains_as_the_fused_adam_up_to_rounding(monkeypatch):
    _without_fused_adam(monkeypatch)
    fused_model, fallback_model = _model(), _model()
    fused = torch.optim.Adam(fused_model.parameters(), lr=1e-2, fused=True)
    _train(fused_model, fused, 40, seed=1)
    _train(fallback_model, make_adam(fallback_model.parameters(), lr=1e-2), 40, seed=1)
    for expected, parameter in zip(fused_model.parameters(), fallback_model.parameters()):
        torch.testing.assert_close(parameter, expected)


def _former_layout(optimizer: torch.optim.Adam, lr: float) -> dict:
    """The state dict of the hand-written Adam this project had before: torch.optim's fused layout,
    written out field by field, betas a tuple, the step a float32 scalar."""
    parameters = optimizer.param_groups[0]["params"]
    return {
        "state": {
            index: {name: optimizer.state[parameter][name].clone() for name in ("step", "exp_avg", "exp_avg_sq")}
            for index, parameter in enumerate(parameters)
        },
        "param_groups": [{
            "lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False, "maximize": False,
            "foreach": None, "capturable": False, "differentiable": False, "fused": True,
            "decoupled_weight_decay": False, "params": list(range(len(parameters))),
        }],
    }  # fmt: skip


def test_a_checkpoint_of_the_former_adam_resumes_bit_for_bit(tmp_path):
    """Its learning rate comes back (the resumed optimizer starts with another), and the
    checkpoint's own tensors are left as they were."""
    model = _model()
    optimizer = make_adam(model.parameters(), lr=1e-2)
    _train(model, optimizer, 15, seed=2)
    path = tmp_path / "former.safetensors"
    save_checkpoint(path, RunConfig(), model.state_dict(), _former_layout(optimizer, lr=1e-2))
    checkpoint = load_checkpoint(path)
    saved_moment = checkpoint.optimizer_state["state"][0]["exp_avg"].clone()
    resumed_model = _model()
    resumed_model.load_state_dict(checkpoint.model_state)
    resumed = make_adam(resumed_model.parameters(), lr=1.0)
    load_adam_state(resumed, checkpoint.optimizer_state)
    assert resumed.param_groups[0]["lr"] == 1e-2
    _train(model, optimizer, 15, seed=3)
    _train(resumed_model, resumed, 15, seed=3)
    for expected, parameter in zip(model.parameters(), resumed_model.parameters()):
        assert torch.equal(expected, parameter)
    assert torch.equal(checkpoint.optimizer_state["state"][0]["exp_avg"], saved_moment)


def test_a_fused_state_resumes_on_the_fallback_which_stays_itself(monkeypatch):
    model = _model()
    optimizer = make_adam(model.parameters(), lr=1e-2)
    _train(model, optimizer, 15, seed=2)
    _without_fused_adam(monkeypatch)
    resumed_model = copy.deepcopy(model)
    resumed = make_adam(resumed_model.parameters(), lr=1e-2)
    load_adam_state(resumed, optimizer.state_dict())
    assert not resumed.param_groups[0]["fused"]
    _train(model, optimizer, 15, seed=3)
    _train(resumed_model, resumed, 15, seed=3)
    for expected, parameter in zip(model.parameters(), resumed_model.parameters()):
        torch.testing.assert_close(parameter, expected)


def test_state_of_another_model_or_malformed_is_refused_with_a_value_error():
    """ValueError, as torch.optim raises: the resume paths add the checkpoint's name to it."""
    model = _model()
    optimizer = make_adam(model.parameters(), lr=1e-3)
    _train(model, optimizer, 1, seed=0)
    saved = optimizer.state_dict()
    wider = torch.nn.Sequential(torch.nn.Linear(6, 17), torch.nn.Tanh(), torch.nn.Linear(17, 3))
    with pytest.raises(ValueError, match="parameter 0 does not fit"):
        load_adam_state(make_adam(wider.parameters(), lr=1e-3), saved)
    with pytest.raises(ValueError, match="is for 4 parameters, this model has 2"):
        load_adam_state(make_adam(list(model.parameters())[:2], lr=1e-3), saved)
    for groups in ([], [{}], None, [{"params": [0, 1, 2, 3], "lr": "fast", "betas": (0.9, 0.99), "eps": 1e-8}]):
        with pytest.raises(ValueError, match="not those of a one-group Adam"):
            load_adam_state(make_adam(model.parameters(), lr=1e-3), {"state": {}, "param_groups": groups})
    for field, value in (("step", torch.ones(2)), ("exp_avg", [0.0])):
        bad = copy.deepcopy(saved)
        bad["state"][0][field] = value
        with pytest.raises(ValueError, match="parameter 0 does not fit"):
            load_adam_state(make_adam(model.parameters(), lr=1e-3), bad)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused(lr):
    with pytest.raises(VaeStudioError, match="learning rate must be a positive number"):
        make_adam(_model().parameters(), lr=lr)


def test_the_warm_up_does_the_first_step_imports():
    """torch.optim imports torch._dynamo at its first step, 1.7 s of the window's cold start: the
    warm-up exists to pay for that import ahead of time, and nothing before it does."""
    code = (
        "import sys\n"
        "from vae_core.training.optimizer import warm_up_optimizer\n"
        "before = 'torch._dynamo' in sys.modules\n"
        "warm_up_optimizer()\n"
        "sys.exit(0 if not before and 'torch._dynamo' in sys.modules else 1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
