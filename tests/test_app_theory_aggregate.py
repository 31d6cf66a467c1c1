"""The aggregate posterior's map layers and page, and the rate-distortion page, in the real window
(pytest-qt, offscreen): a model put on show directly, no training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.state import ModelOnShow
from vae_core.config import ModelConfig, RunConfig
from vae_core.evaluation.aggregate_posterior import kl_to_prior
from vae_core.figures.aggregate import GRID, KL_SAMPLES, encode_aggregate
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.model_access import ExplorerModel
from vae_core.models import build_model

TIMEOUT_MS = 10000


@pytest.fixture
def window(shown_window, small_config, qtbot):
    """The window, once its preload of the (small) data set is done."""
    window = shown_window(small_config)
    with qtbot.waitSignal(window.dataLoaded, timeout=TIMEOUT_MS):
        pass  # the event loop has not turned yet: the signal is still to come
    return window


def show_model(window, data, narrow: bool = False, **options) -> dict:
    """A 2-D model of the glyphs on show; `narrow`: every q(z|x) of spread e^-4, so q(z) is a few
    sharp spikes and most of the prior is holes."""
    torch.manual_seed(0)
    config = ModelConfig(
        input_shape=(1, 28, 28), num_classes=10, latent_dim=2, hidden=(64,), **options
    )
    viewer = build_model(config)
    weights = viewer.state_dict()
    if narrow:
        weights["encoder.net.2.weight"][2:] = 0.0
        weights["encoder.net.2.bias"][2:] = -8.0
    window.state.shown.show(
        ModelOnShow(
            RunConfig(model=config), viewer.capabilities, "checkpoint", data, viewer=viewer
        ),
        weights,
    )
    return weights


def show_tab(window, title: str) -> None:
    tabs = window.view_tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == title))


def test_ticking_the_box_fills_the_density_layer_over_the_visible_range(
    window, small_glyphs, qtbot
):
    layers = window.seed.aggregate
    show_model(window, small_glyphs.test)
    # Off: nothing asked, nothing scheduled.
    assert layers._line.idle and layers._last is None
    assert layers.density_layer.objectName() == "aggregatePosteriorLayer"
    layers.density_check.setChecked(True)
    qtbot.waitUntil(lambda: layers.density_layer.image is not None, timeout=TIMEOUT_MS)
    image = layers.density_layer.image
    assert image.shape == (GRID, GRID) and image.max() == pytest.approx(1.0) and image.min() >= 0.0
    (x0, x1), (y0, y1) = window.explorer.map.visible_range()
    rect = layers.density_layer.mapRectToParent(layers.density_layer.boundingRect())
    assert (rect.left(), rect.bottom()) == pytest.approx(
        (x0, y1), abs=1e-6
    )  # a y-up view: bottom is the top
    assert (rect.width(), rect.height()) == pytest.approx((x1 - x0, y1 - y0), abs=1e-6)
    # The brightest cell lies among the codes: within one cell of some posterior mean.
    row, column = np.unravel_index(np.argmax(image), image.shape)
    cell = np.array([x0 + (column + 0.5) * (x1 - x0) / GRID, y0 + (row + 0.5) * (y1 - y0) / GRID])
    means = layers._last.value.components.means.numpy()
    assert np.min(np.abs(means - cell).max(1)) < (x1 - x0) / GRID
    layers.density_check.setChecked(False)
    assert layers.density_layer.image is None


def test_prior_samples_in_holes_are_marked(window, small_glyphs, qtbot):
    layers = window.seed.aggregate
    show_model(window, small_glyphs.test, narrow=True)
    layers.holes_check.setChecked(True)
    qtbot.waitUntil(lambda: len(layers.holes_layer.data) > 0, timeout=TIMEOUT_MS)
    holes = layers._last.value.holes
    symbols = list(layers.holes_layer.data["symbol"])
    assert layers.holes_layer.objectName() == "holesLayer"
    assert symbols.count("x") == holes.count > len(symbols) // 2
    crosses = np.array([spot.pos() for spot in layers.holes_layer.points() if spot.symbol() == "x"])
    assert np.allclose(np.sort(crosses[:, 0]), np.sort(holes.samples[holes.in_hole, 0].numpy()))


def test_the_page_shows_the_kl_the_holes_and_their_decodes(window, small_glyphs, qtbot):
    layers = window.seed.aggregate
    weights = show_model(window, small_glyphs.test, narrow=True)
    show_tab(window, "Aggregate posterior")
    qtbot.waitUntil(lambda: "KL(q(z) || p(z))" in layers.page.readout.text(), timeout=TIMEOUT_MS)
    model = build_model(window.state.shown.model.config.model)
    model.load_state_dict(weights)
    access = ExplorerModel(model)
    aggregate = encode_aggregate(access, window.state.shown.explorer.examples)
    expected = kl_to_prior(
        aggregate, model.prior.log_prob, KL_SAMPLES, torch.Generator().manual_seed(0)
    )
    text = layers.page.readout.text()
    assert f"{expected.value:.3f} ± {expected.standard_error:.3f} nats" in text
    holes = layers._last.value.holes
    assert f"{holes.count:,} of {len(holes.samples):,} prior samples" in text
    assert (
        layers.page.hole_images.image() is not None
        and layers.page.covered_images.image() is not None
    )


def test_a_vq_vae_leaves_the_boxes_disabled_saying_why(window, small_glyphs):
    show_model(window, small_glyphs.test, family="vqvae")
    layers = window.seed.aggregate
    for check in (layers.density_check, layers.holes_check):
        assert not check.isEnabled() and "Not used now: a VQ-VAE" in check.toolTip()


def metrics_rows(betas, kls, recons) -> np.ndarray:
    rows = np.zeros((len(betas), len(METRICS_COLUMNS)))
    column = METRICS_COLUMNS.index
    rows[:, column("step")] = np.arange(1, len(betas) + 1)
    rows[:, column("beta")], rows[:, column("kl")], rows[:, column("recon")] = betas, kls, recons
    return rows


def test_a_live_beta_change_gives_two_points_and_other_runs_draw_in_their_colours(window, qtbot):
    view = window.seed.rate_distortion
    plot = window.findChild(type(view.plot), "rateDistortionPlot")
    assert plot is view.plot
    run = window.state.run
    run.begin()
    show_tab(window, "Rate–distortion")
    run.add_rows(
        metrics_rows(
            [1.0] * 8, [20, 18, 16, 14, 12, 11, 10, 10], [200, 180, 150, 130, 110, 105, 100, 100]
        )
    )
    qtbot.waitUntil(lambda: view.point_count() == 1, timeout=TIMEOUT_MS)
    run.add_rows(metrics_rows([4.0] * 4, [3, 2, 1, 1], [150, 140, 130, 130]))
    qtbot.waitUntil(lambda: view.point_count() == 2, timeout=TIMEOUT_MS)
    x, y = view.current.getData()
    assert list(x) == [10.0, 1.0] and list(y) == [100.0, 130.0]
    assert [label.textItem.toPlainText() for label in view._labels] == ["β = 1", "β = 4"]
    view.show_runs(
        [("other run", "#1f77b4", metrics_rows([0.5] * 4, [30, 30, 30, 30], [90, 90, 90, 90]))]
    )
    (other,) = view._other_items
    assert list(other.getData()[0]) == [30.0] and other.opts["symbolBrush"] == "#1f77b4"
    assert "other run" in [label.text for _, label in view.legend.items]
    view.show_runs([])
    assert view._other_items == []


def test_the_hidden_rate_distortion_page_does_no_work(window, qtbot):
    view = window.seed.rate_distortion
    window.state.run.begin()
    show_tab(window, "Curves")
    view.refresh()
    window.state.run.add_rows(metrics_rows([2.0] * 4, [5] * 4, [50] * 4))
    assert not view._timer.isActive() and view.point_count() == 0
    show_tab(window, "Rate–distortion")
    assert view.point_count() == 1


def test_ticked_runs_cost_the_hidden_plane_nothing_and_the_shown_one_no_new_legend(window, qtbot):
    view = window.seed.rate_distortion
    show_tab(window, "Curves")
    runs = [
        (f"run {n}", f"#{n:02d}7fb4", metrics_rows([1.0] * 4, [10 + n] * 4, [90] * 4))
        for n in range(14)
    ]
    view.show_runs(runs)
    assert view._other_items == [] and len(view.legend.items) == 1  # "this run"
    show_tab(window, "Rate–distortion")
    assert len(view._other_items) == 14 and len(view.legend.items) == 16  # and the ELBO line
    items, labels = list(view._other_items), [label for _, label in view.legend.items]
    grown = [(name, colour, np.concatenate([rows, rows[-1:] * 0.5])) for name, colour, rows in runs]
    view.show_runs(grown)
    assert view._other_items == items and [label for _, label in view.legend.items] == labels
    assert list(view._other_items[0].getData()[0]) == [10.0, 5.0]  # a β 0.5 stretch too
    assert labels[-1].text == "rate + distortion = 50.0"
    view.show_runs(runs[:3])
    assert len(view.legend.items) == 5 and view.legend.items[-1][0].item is view._iso_key


def test_a_failing_pass_is_one_line_for_the_user(window, small_glyphs, qtbot, monkeypatch):
    from vae_core.figures import aggregate

    def broken(_access, _examples):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(aggregate, "encode_aggregate", broken)
    show_model(window, small_glyphs.test)
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as shown:
        window.seed.aggregate.density_check.setChecked(True)
    assert shown.args == ["the aggregate posterior could not be computed: no memory left"]
