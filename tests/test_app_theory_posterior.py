"""The true posterior's heat map, the importance samples and the ELBO identity page, driven in the
window as a user drives them (pytest-qt, offscreen)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from app.controllers import model_jobs
from app.controllers.job_kinds import ELBO_IDENTITY, POSTERIOR_LAYERS
from app.explorer.selection import BINARISED_INPUT
from app.state import ModelOnShow
from app.theory.posterior_layers import NO_SELECTION
from vae_core.config import ModelConfig, RunConfig
from vae_core.evaluation.true_posterior import (
    READOUT_RESOLUTION,
    log_likelihood_quadrature,
)
from vae_core.figures import posterior as figures_posterior
from vae_core.figures.posterior import HEAT_MAP_RESOLUTION, observed_selection
from vae_core.latent import to_uint8_images
from vae_core.models import build_model

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def trained(trained_2d):
    """The shared 2-D model: its completed config and weights."""
    config, snapshot = trained_2d
    return config, snapshot.model_state


def _show(window, config: RunConfig, weights=None, data=None) -> None:
    viewer = build_model(config.model)
    shown = window.state.shown
    shown.show(
        ModelOnShow(config, viewer.capabilities, "checkpoint", data, viewer=viewer),
        weights or viewer.state_dict(),
    )


@pytest.fixture
def window(qtbot, trained, small_glyphs):
    from app.main_window import MainWindow

    config, weights = trained
    window = MainWindow()
    qtbot.addWidget(window)
    window.controls.apply_config(config)
    window.resize(1200, 800)
    with qtbot.waitSignal(
        window.dataLoaded, timeout=TIMEOUT_MS
    ):  # the preload of the data set in the controls
        window.show()
    _show(window, config, weights, small_glyphs.test)
    yield window
    window.close()


def _jobs(monkeypatch, kind) -> list:
    """Record the jobs of `kind` the jobs controller starts, letting them run."""
    started = []
    real = model_jobs.start_job

    def recording(function, *args, **kwargs):
        if args[0] is kind:
            started.append(args[3].request)
        return real(function, *args, **kwargs)

    monkeypatch.setattr(model_jobs, "start_job", recording)
    return started


def _wait_for_layers(qtbot, layers, samples: int) -> None:
    def ready():
        dots = layers.dots.data
        return (
            layers.heat_map.image is not None
            and dots is not None
            and len(dots) == samples
            and "quadrature" in layers.readout.text()
        )

    qtbot.waitUntil(ready, timeout=TIMEOUT_MS)


def test_the_controls_are_named_and_off_and_off_does_no_work(window, monkeypatch):
    started = _jobs(monkeypatch, POSTERIOR_LAYERS)
    layers = window.seed.posterior_layers
    for name in (
        "truePosteriorCheckBox",
        "importanceSamplesCheckBox",
        "importanceCountSpinBox",
        "importanceProposalCombo",
        "importanceReadout",
    ):
        assert window.findChild(object, name) is not None, name
    assert layers.heat_map.objectName() == "posteriorLayer"
    assert layers.dots.objectName() == "importanceSamplesLayer"
    assert layers.heat_map.getViewBox() is window.explorer.map.view_box
    assert not layers.posterior_check.isChecked() and not layers.samples_check.isChecked()
    assert layers.count_spin.value() == 100 and layers.count_spin.maximum() == 10_000
    assert [layers.proposal_combo.itemData(i) for i in range(2)] == ["prior", "posterior"]
    window.explorer.select(3)
    window.explorer.map.view_box.setRange(xRange=(-2, 2), yRange=(-2, 2))
    assert started == [] and layers.heat_map.image is None and layers.readout.text() == ""


def test_without_a_selection_the_layers_are_empty_and_say_why(window, monkeypatch):
    started = _jobs(monkeypatch, POSTERIOR_LAYERS)
    layers = window.seed.posterior_layers
    layers.posterior_check.setChecked(True)
    layers.samples_check.setChecked(True)
    assert started == []
    assert layers.readout.text() == NO_SELECTION
    assert layers.heat_map.image is None and len(layers.dots.data) == 0


def test_the_selected_inputs_posterior_and_samples_are_drawn(window, qtbot, small_glyphs, trained):
    layers = window.seed.posterior_layers
    window.explorer.select(5)
    layers.posterior_check.setChecked(True)
    layers.samples_check.setChecked(True)
    _wait_for_layers(qtbot, layers, 100)
    assert layers.heat_map.image.shape == (4 * HEAT_MAP_RESOLUTION, 4 * HEAT_MAP_RESOLUTION)
    assert (
        0.9 < layers.heat_map.image.max() <= 1.0
    )  # the peak, over its own value (bilinear smoothing)
    assert layers.heat_map.zValue() == -5 and layers.dots.zValue() == 12
    text = layers.readout.text()
    assert text.startswith(f"{BINARISED_INPUT}, as in training · ESS ") and " of 100 " in text
    # The readout's quadrature is the core's, for the input selected as the model observes it.
    model = build_model(trained[0].model)
    model.load_state_dict(trained[1])
    image = observed_selection(model, small_glyphs.test, 5).image
    expected = log_likelihood_quadrature(model, image, None, READOUT_RESOLUTION)
    assert f"quadrature {expected:.1f}".replace("-", "−") in text

    layers.count_spin.setValue(37)
    layers.proposal_combo.setCurrentIndex(1)
    _wait_for_layers(qtbot, layers, 37)
    assert " of 37 " in layers.readout.text()


def test_the_image_shown_and_q_drawn_are_of_the_binary_image_the_true_posterior_scores(
    window, qtbot, small_glyphs, trained
):
    """A Bernoulli model's encoder saw binary images only: the side panel shows, q's ellipses
    are drawn for, and the heat map scores one and the same binarised image, and a line says so."""
    layers = window.seed.posterior_layers
    window.explorer.select(4)
    layers.posterior_check.setChecked(True)
    qtbot.waitUntil(lambda: layers.heat_map.image is not None, timeout=TIMEOUT_MS)
    model = build_model(trained[0].model)
    model.load_state_dict(trained[1])
    observed = observed_selection(model, small_glyphs.test, 4).image
    grey = small_glyphs.test.batch(torch.tensor([4]))[0][0]
    assert not torch.equal(observed, grey)  # the glyph has grey edges
    scored = layers._drawn.request.selected.image
    assert torch.equal(scored, observed)
    side = window.explorer.side
    assert np.array_equal(side.input_view._image, to_uint8_images(observed[None].numpy())[0])
    assert side.posterior_label.text().startswith(BINARISED_INPUT)
    assert layers.readout.text().startswith(BINARISED_INPUT)
    with torch.no_grad():
        q = model.encode(observed[None])
    drawn = window.explorer.state.posterior
    np.testing.assert_allclose(drawn.mean, q.mean[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(drawn.std, q.std[0].numpy(), rtol=1e-5, atol=1e-6)


def test_a_new_selection_replaces_the_layers_and_an_overtaken_answer_is_dropped(
    window, qtbot, small_glyphs, trained
):
    layers = window.seed.posterior_layers
    layers.samples_check.setChecked(True)
    window.explorer.select(1)
    window.explorer.select(2)  # while the first is under way
    model = build_model(trained[0].model)
    model.load_state_dict(trained[1])
    image = observed_selection(model, small_glyphs.test, 2).image
    expected = f"quadrature {log_likelihood_quadrature(model, image, None, READOUT_RESOLUTION):.1f}".replace(
        "-", "−"
    )
    qtbot.waitUntil(lambda: expected in layers.readout.text(), timeout=TIMEOUT_MS)
    assert len(layers.dots.data) == 100


def test_above_two_dimensions_the_heat_map_is_a_slice_and_the_readout_says_so(
    window, qtbot, small_glyphs
):
    model_config = ModelConfig(input_shape=(1, 28, 28), num_classes=10, hidden=(32,), latent_dim=4)
    _show(window, RunConfig(model=model_config), data=small_glyphs.test)
    layers = window.seed.posterior_layers
    window.explorer.select(0)
    layers.posterior_check.setChecked(True)
    layers.samples_check.setChecked(True)
    qtbot.waitUntil(lambda: layers.idle and "slice" in layers.readout.text(), timeout=TIMEOUT_MS)
    assert "quadrature" not in layers.readout.text()
    assert layers.heat_map.image is not None and len(layers.dots.data) == 100


def test_families_without_one_gaussian_latent_layer_disable_the_controls(window, small_glyphs):
    layers = window.seed.posterior_layers
    for family in ("vqvae", "hvae"):
        model_config = ModelConfig(
            family=family, input_shape=(1, 28, 28), num_classes=10, hidden=(32,), latent_dim=2
        )
        _show(window, RunConfig(model=model_config), data=small_glyphs.test)
        for control in (
            layers.posterior_check,
            layers.samples_check,
            layers.count_spin,
            layers.proposal_combo,
        ):
            assert not control.isEnabled()
            assert "Not used now:" in control.toolTip()
    window.seed.identity.refresh()
    assert window.seed.identity.caption.text().startswith("Not used now:")


def _numbers(text: str) -> list[float]:
    return [float(number.replace("−", "-")) for number in re.findall(r"[−-]?\d+\.\d+", text)]


def test_the_identity_page_works_only_when_visible_and_its_numbers_add_up(
    window, qtbot, monkeypatch
):
    started = _jobs(monkeypatch, ELBO_IDENTITY)
    page = window.seed.identity
    window.explorer.select(4)
    assert started == []  # the page is not on show
    tabs = window.view_tabs
    assert (
        tabs.tabText(tabs.indexOf(page)) == "ELBO identity" and page.objectName() == "identityView"
    )
    with qtbot.waitSignal(page.identityShown, timeout=TIMEOUT_MS):
        tabs.setCurrentWidget(page)
    identity = page.identity
    assert identity.method == "quadrature"
    assert identity.elbo + identity.kl == pytest.approx(identity.log_likelihood, abs=1e-9)
    log_p, elbo, kl = _numbers(page.caption.text())[:3]
    assert log_p == pytest.approx(elbo + kl, abs=0.015)
    with qtbot.waitSignal(page.gapShown, timeout=TIMEOUT_MS):
        pass
    assert page.fitted_elbo == pytest.approx(identity.elbo + page.gap.amortization_gap)
    assert "amortization gap" in page.caption.text()
    labels = [
        item.textItem.toPlainText()
        for item in page.plot.getPlotItem().items
        if hasattr(item, "textItem")
    ]
    assert any(label.startswith("amortization") for label in labels)
    assert len(started) == 1


def test_a_failure_is_one_line_and_switches_the_layers_off(window, qtbot, monkeypatch):
    def failing(model, request):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(figures_posterior, "refresh_layers", failing)
    layers = window.seed.posterior_layers
    window.explorer.select(2)
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as shown:
        layers.samples_check.setChecked(True)
    assert shown.args == ["the true posterior could not be computed: no memory left"]
    assert not layers.samples_check.isChecked() and layers.readout.text() == ""
    qtbot.waitUntil(lambda: layers.idle, timeout=TIMEOUT_MS)
