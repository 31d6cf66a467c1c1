"""The "Gradient estimators" page: the two estimators' variance against K for the map's selection."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.state import ModelOnShow
from app.theory import gradient_view
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.figures import gradients
from vae_core.models import build_model

TIMEOUT_MS = 20_000


def _config(family: str = "vae") -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(
            family=family,
            hidden=(32,),
            latent_dim=2,
            codebook_size=16,
            input_shape=(1, 28, 28),
            num_classes=10,
        ),
        train=TrainConfig(batch_size=50, max_steps=30, seed=0, device="cpu"),
    )


def _show(window, small_glyphs, family: str = "vae", seed: int = 0) -> None:
    config = _config(family)
    torch.manual_seed(seed)
    viewer = build_model(config.model)
    model = ModelOnShow(config, viewer.capabilities, "checkpoint", small_glyphs.test, viewer=viewer)
    window.state.shown.show(
        model, {name: value.clone() for name, value in viewer.state_dict().items()}
    )


@pytest.fixture
def window(shown_window, small_glyphs):
    window = shown_window(_config())
    _show(window, small_glyphs)
    return window


def _open_page(qtbot, window):
    page = window.seed.gradients
    with qtbot.waitSignal(page.studied, timeout=TIMEOUT_MS) as studied:
        window.view_tabs.setCurrentWidget(page)
    return studied.args[0]


def _curves(page) -> dict:
    return {item.name(): item for item in page.plot.getPlotItem().listDataItems() if item.name()}


def test_the_page_draws_two_curves_of_four_points_for_the_selected_input(qtbot, window):
    window.explorer.select(3)
    report = _open_page(qtbot, window)
    page = window.seed.gradients
    assert window.view_tabs.tabText(window.view_tabs.indexOf(page)) == "Gradient estimators"
    assert (
        page.plot.objectName() == "gradientVariancePlot"
        and page.plot.getPlotItem().ctrl.logXCheck.isChecked()
    )
    curves = _curves(page)
    assert set(curves) == {"reparameterization", "score function"}
    (counts, reparameterized), (_, score) = (
        curves[name].getOriginalDataset() for name in ("reparameterization", "score function")
    )
    np.testing.assert_array_equal(counts, [1, 10, 100, 1000])
    assert len(reparameterized) == len(score) == 4 and np.all(reparameterized < score)
    assert report.inputs == 1 and "example 3" in page.source.text()
    assert "Variance ratio" in page.readout.text() and "∂/∂μ" in page.readout.text()


def test_with_nothing_selected_a_batch_of_the_map_examples_is_studied(qtbot, window):
    report = _open_page(qtbot, window)
    assert report.inputs == 5 and "first 5 examples" in window.seed.gradients.source.text()


def test_a_hidden_page_does_no_work_until_it_is_shown(qtbot, window):
    page = window.seed.gradients
    window.explorer.select(2)
    assert not page.isVisible() and page.report is None and not page.busy
    report = _open_page(qtbot, window)
    assert report.inputs == 1


def test_new_weights_redo_the_study(qtbot, window):
    page = window.seed.gradients
    window.explorer.select(1)
    first = _open_page(qtbot, window)
    torch.manual_seed(5)
    with qtbot.waitSignal(page.studied, timeout=TIMEOUT_MS) as studied:
        window.state.shown.set_weights(build_model(_config().model).state_dict(), 10)
    assert studied.args[0].reparameterization.variance != first.reparameterization.variance


def test_an_answer_for_the_previous_selection_is_dropped(qtbot, window, monkeypatch):
    page = window.seed.gradients
    started, release = threading.Event(), threading.Event()
    study = gradients.study_gradients

    def held_study(model, request):
        started.set()
        release.wait(TIMEOUT_MS / 1000)
        return study(model, request)

    monkeypatch.setattr(page._line, "kind", replace(page._line.kind, work=held_study))
    window.explorer.select(1)
    window.view_tabs.setCurrentWidget(page)
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    sources = []
    page.studied.connect(lambda _report: sources.append(page.source.text()))
    window.explorer.select(4)  # while example 1's study is under way
    release.set()
    qtbot.waitUntil(lambda: bool(sources), timeout=TIMEOUT_MS)
    assert "example 4" in sources[0] and "example 4" in page.source.text()


def test_a_vq_vae_disables_the_page_and_says_why(qtbot, shown_window, small_glyphs):
    window = shown_window(_config("vqvae"))
    _show(window, small_glyphs, "vqvae")
    page = window.seed.gradients
    window.explorer.select(0)
    window.view_tabs.setCurrentWidget(page)
    assert not page.plot.isEnabled() and page.plot.toolTip().startswith("Not used now:")
    assert "deterministic" in page.source.text()
    assert page.report is None and not page.busy


def test_a_failed_study_is_one_line_and_the_page_tries_again_later(qtbot, window, monkeypatch):
    def fail(*_):
        raise RuntimeError("out of memory")

    line = window.seed.gradients._line
    monkeypatch.setattr(line, "kind", replace(line.kind, work=fail))
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as shown:
        window.view_tabs.setCurrentWidget(window.seed.gradients)
    assert shown.args[0] == "the gradient estimators could not be measured: out of memory"
    monkeypatch.undo()
    with qtbot.waitSignal(window.seed.gradients.studied, timeout=TIMEOUT_MS):
        window.explorer.select(0)


@pytest.mark.parametrize(
    "family, words",
    [("vae", None), ("cvae", None), ("vqvae", "deterministic"), ("hvae", "two latent layers")],
)
def test_the_page_applies_to_one_gaussian_latent_layer(family, words):
    capabilities = build_model(_config(family).model).capabilities
    reason = gradient_view.not_applicable_reason(capabilities)
    assert reason is None if words is None else words in reason
