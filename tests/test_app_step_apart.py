"""A training step taken apart in the window, on the linear Gaussian model and small data made
here: Step apart starts a run that pauses, Phase takes the step's six phases on the training
thread, the gradient the window holds is autograd's for that input, and after the last phase the
run is one ordinary step further. Budgets in events (signals), never in sleeps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from app.state import ModelOnShow, RunStatus
from tests.test_app_window import SIGNAL_TIMEOUT_MS, wait_for_status
from tests.test_linear_gaussian import _small_images
from vae_core.checkpoint import load_checkpoint
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.models import build_model
from vae_core.training.step_apart import PHASE_LINES, PHASES
from vae_core.training.trainer import Trainer

BETA = 1.0


def _linear_gaussian_config(tmp_path) -> RunConfig:
    path = tmp_path / "small.npz"
    np.savez(path, images=_small_images(60, 0).images[:, 0].numpy())
    return RunConfig(
        data=DataConfig(dataset=f"npz:{path}"),
        model=ModelConfig(arch="linear", likelihood="gaussian", latent_dim=2),
        train=TrainConfig(
            batch_size=10, max_steps=1000, lr=3e-2, beta=BETA, seed=0, device="cpu", heldout_every=0
        ),
    )


def _click(qtbot, window, name: str) -> None:
    qtbot.mouseClick(window.findChild(QPushButton, name), Qt.MouseButton.LeftButton)


def _paused_in_the_mode(qtbot, window):
    """Step apart with no run: a run starts and pauses; the mode waits for the first phase."""
    _click(qtbot, window, "stepApartButton")
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    state = window.step_apart.controller.state
    assert state.active and state.held and state.phase is None


def _saved(qtbot, window, path):
    with qtbot.waitSignal(window.runs.checkpointSaved, timeout=SIGNAL_TIMEOUT_MS):
        window.runs.save(path)
    return load_checkpoint(path)


def _take_phases(qtbot, window, count: int):
    for _ in range(count):
        with qtbot.waitSignal(window.runs.phaseTaken, timeout=SIGNAL_TIMEOUT_MS):
            _click(qtbot, window, "phaseButton")
    return window.step_apart.controller.state.phase


def _copy_of_the_run(checkpoint) -> Trainer:
    """The paused run rebuilt from its checkpoint: weights, Adam's moments, random stream."""
    trainer = Trainer(checkpoint.config, load_data(checkpoint.config.data))
    trainer.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
    return trainer


def _autograd_gradient(model, x, epsilon):
    """∂loss/∂μ and ∂loss/∂σ by autograd, μ and σ leaves: loss = −log p(x|μ + σε) + β KL."""
    posterior = model.encode(x)
    mean = posterior.mean.detach().requires_grad_()
    std = posterior.std.detach().requires_grad_()
    z = mean + std * epsilon
    recon = -model.likelihood.log_prob(x, model.decode(z)).mean()
    kl = 0.5 * (mean.square() + std.square() - 1 - torch.log(std.square())).sum(-1).mean()
    return torch.autograd.grad(recon + BETA * kl, (mean, std))


def test_the_phases_draw_autograds_gradient_and_end_one_ordinary_step_further(
    qtbot, shown_window, tmp_path
):
    window = shown_window(_linear_gaussian_config(tmp_path))
    _paused_in_the_mode(qtbot, window)
    before = _saved(qtbot, window, tmp_path / "before.safetensors")
    step = int(before.counters["step"])
    rows = len(window.state.run.history)
    label = window.findChild(QLabel, "phaseLabel")
    for name in PHASES[:-1]:
        phase = _take_phases(qtbot, window, 1)
        assert phase.name == name and PHASE_LINES[name] in label.text()
        assert "the first test image" in label.text()
    # The gradient the window holds and draws, against autograd's on a copy of the paused run.
    copy = _copy_of_the_run(before)
    x = window.state.shown.model.test_data.batch(torch.tensor([0]))[0]
    # The first draw of the run's stream after the pause (a Gaussian likelihood observes x as is).
    epsilon = torch.randn(1, 2, generator=torch.Generator().set_state(copy.generator.get_state()))
    assert np.allclose(phase.epsilon, epsilon.double().numpy()[0], atol=1e-6)
    mean_gradient, std_gradient = _autograd_gradient(copy.model, x, epsilon)
    assert np.allclose(phase.mean_gradient, mean_gradient[0].numpy(), rtol=1e-4, atol=1e-5)
    assert np.allclose(phase.std_gradient, std_gradient[0].numpy(), rtol=1e-4, atol=1e-5)
    drawn = window.step_apart.layer.drawn
    start, vector = drawn["mean_arrow"]  # the map's plane is z0, z1 here: the arrow is −s ∂loss/∂μ
    assert np.allclose(vector, -drawn["scale"] * mean_gradient[0].numpy(), rtol=1e-4, atol=1e-6)
    assert f"−∂loss/∂μ × {drawn['scale']:g}" in window.step_apart.layer.key.text()
    # The update: one snapshot, one step more, one more point on the curves.
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS) as taken:
        _take_phases(qtbot, window, 1)
    assert taken.args[0].step == step + 1 and len(window.state.run.history) == rows + 1
    # One ordinary step of the copy on that input, with the same draws.
    optimizer, model = copy.optimizer, copy.model
    terms = model.loss(model.observe(x, copy.generator), None, beta=BETA, generator=copy.generator)
    optimizer.zero_grad()
    terms["loss"].backward()
    copy.step_optimizer()
    for name, value in model.state_dict().items():
        assert torch.allclose(window.state.shown.weights[name], value, rtol=1e-5, atol=1e-7), name
    # The run goes on consistently: its checkpoint holds the step, Adam's moments and draws.
    after = _saved(qtbot, window, tmp_path / "after.safetensors")
    assert int(after.counters["step"]) == copy.step == step + 1
    assert torch.equal(after.counters["generator_state"], copy.generator.get_state())
    saved, ours = after.optimizer_state["state"], optimizer.state_dict()["state"]
    for index, moments in ours.items():
        assert torch.allclose(saved[index]["exp_avg_sq"], moments["exp_avg_sq"], rtol=1e-5)


def test_leaving_mid_step_leaves_the_run_untouched(qtbot, shown_window, tmp_path):
    window = shown_window(_linear_gaussian_config(tmp_path))
    _paused_in_the_mode(qtbot, window)
    before = _saved(qtbot, window, tmp_path / "before.safetensors")
    _take_phases(qtbot, window, PHASES.index("gradient") + 1)  # all but the update
    with qtbot.waitSignal(window.runs.phasesPutAside, timeout=SIGNAL_TIMEOUT_MS):
        _click(qtbot, window, "stepApartButton")
    state = window.step_apart.controller.state
    assert not state.active and state.phase is None
    assert not window.step_apart.row.isVisible()
    after = _saved(qtbot, window, tmp_path / "after.safetensors")
    assert after.counters["step"] == before.counters["step"]
    assert torch.equal(after.counters["generator_state"], before.counters["generator_state"])
    for name, value in before.model_state.items():
        assert torch.equal(after.model_state[name], value), name


@pytest.mark.parametrize(
    "family, words",
    [("vqvae", "one Gaussian latent layer"), ("hvae", "one Gaussian latent layer")],
)
def test_the_button_is_off_for_a_model_it_does_not_apply_to_and_says_why(
    qtbot, shown_window, tmp_path, family, words
):
    config = _linear_gaussian_config(tmp_path)
    window = shown_window(config)
    model = ModelConfig(family=family, hidden=(8,), latent_dim=2, input_shape=(1, 6, 6))
    viewer = build_model(model)
    run = RunConfig(data=config.data, model=model, train=config.train)
    window.state.shown.show(ModelOnShow(run, viewer.capabilities, "run", None, viewer=viewer))
    button = window.findChild(QPushButton, "stepApartButton")
    assert not button.isEnabled()
    assert words in button.toolTip() and "\n" not in button.toolTip()
    assert words in window.statusBar().message()


def test_a_running_run_pauses_for_the_mode_and_resume_puts_a_step_aside(
    qtbot, shown_window, tmp_path
):
    window = shown_window(_linear_gaussian_config(tmp_path))
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        _click(qtbot, window, "trainButton")
    _click(qtbot, window, "stepApartButton")
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    state = window.step_apart.controller.state
    assert state.held and state.note == ""
    selected = 4
    window.explorer.select(selected)
    phase = _take_phases(qtbot, window, 2)
    assert phase.name == "reparameterize" and state.input_name == "the selected input"
    pixels = window.state.shown.explorer.examples.images[selected, 0].numpy()
    assert np.array_equal(window.step_apart.row.input_tile.image(), pixels)
    with qtbot.waitSignal(window.runs.phasesPutAside, timeout=SIGNAL_TIMEOUT_MS):
        _click(qtbot, window, "pauseButton")  # Resume
    assert state.active and state.phase is None and "put aside" in state.note
    assert not window.findChild(QPushButton, "phaseButton").isEnabled()


def test_the_step_is_not_drawn_on_a_t_sne_map_and_the_key_says_so(qtbot):
    """t-SNE places codes by their neighbours: an ellipse or arrow in code coordinates drawn on it
    would sit anywhere; the key says where the step is drawn instead."""
    import dataclasses

    import pyqtgraph as pg

    from app.explorer.step_apart_layer import NOT_ON_THIS_PLANE, StepApartLayer
    from app.state import PLANE_TSNE, ExplorerState
    from app.state.step_apart import StepApartState
    from vae_core.training.step_apart import StepPhase

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    explorer, step = ExplorerState(), StepApartState()
    layer = StepApartLayer(plot, step, explorer)
    mean, std = np.array([0.5, -0.5]), np.array([0.3, 0.4])
    step.active = True
    step.phase = StepPhase("encode", PHASE_LINES["encode"], mean, std)
    assert len(layer.ellipses[0].getData()[0]) > 0  # a plane of two dimensions: drawn

    explorer.plane_choice = dataclasses.replace(explorer.plane_choice, mode=PLANE_TSNE)
    assert all(len(curve.getData()[0]) == 0 for curve in layer.ellipses)
    assert layer.drawn == {} and NOT_ON_THIS_PLANE in layer.key.text()
