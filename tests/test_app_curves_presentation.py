"""The loss curves as a class sees them: a legend that never covers the newest steps, β ticks that
never collide, and presentation mode that shows only the map and the curves, in thick lines, and
gives everything back as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QDockWidget

from app.curves import PRESENTATION_LINE_SCALE, CurvesView
from app.state import RunModel, ShownModel
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.training.trainer import TrainingSnapshot

TOTAL_STEPS = 1200


def _snapshot(step: int, loss: float, kl: float, beta: float) -> TrainingSnapshot:
    return TrainingSnapshot(
        step=step,
        epoch=0,
        epoch_progress=step / TOTAL_STEPS,
        total_steps=TOTAL_STEPS,
        wall_time_s=0.1 * step,
        images_per_s=1000.0,
        loss=loss,
        recon=loss - kl,
        kl=kl,
        beta=beta,
        learning_rate=1e-3,
        kl_per_dim=np.ones(2),
        finished=False,
    )


def _curves(qtbot, height: int, decades: float, rising: bool = False) -> CurvesView:
    """The curves of a run to its last step: β from 10^-decades to 1; a loss that falls, or one
    that climbs to the top right (a run diverging), where the legend used to sit."""
    view = CurvesView(RunModel(), ShownModel())
    qtbot.addWidget(view)
    view.resize(900, height)
    view.show()
    view.span_combo.setCurrentText("whole run")  # the newest step at the axis' right end
    view.run.begin()
    for step in range(20, TOTAL_STEPS + 1, 20):
        progress = step / TOTAL_STEPS
        loss = 100 + 400 * progress**4 if rising else 120 + 430 * np.exp(-step / 150)
        kl = 25 * (1 - np.exp(-step / 200))
        view.run.add_snapshot(_snapshot(step, loss, kl, 10 ** (decades * (progress - 1))))
    view.refresh()
    qtbot.waitUntil(lambda: view.plot.getPlotItem().vb.width() > 0)
    return view


def _newest_points(view: CurvesView) -> list[QRectF]:
    """A 6-pixel square of the scene around each curve's newest point."""
    rects = []
    for curve in view.curves.values():
        if not curve.isVisible():
            continue
        x, y = curve.getData()
        box = curve.getViewBox()
        centre = box.mapViewToScene(QPointF(float(x[-1]), float(y[-1])))
        rects.append(QRectF(centre.x() - 3, centre.y() - 3, 6, 6))
    return rects


@pytest.mark.parametrize("rising", [False, True])
def test_the_legend_never_covers_the_newest_steps(qtbot, rising):
    view = _curves(qtbot, 320, 3.0, rising)
    legend = view.legend.sceneBoundingRect()
    assert legend.width() > 0 and legend.height() > 0
    for newest in _newest_points(view):
        assert not legend.intersects(newest)
    # Nor any other point: it sits above the plot area, inside the plot's own rectangle.
    plot_area = view.plot.getPlotItem().vb.sceneBoundingRect()
    assert not legend.intersects(plot_area)
    assert view.plot.getPlotItem().sceneBoundingRect().contains(legend)


def test_the_legend_names_only_the_curves_drawn(qtbot):
    view = _curves(qtbot, 320, 0.0)
    named = [sample.item.name() for sample, _ in view.legend.items]
    assert named == ["loss", "recon", "kl", "beta"]  # no held-out loss yet: no entry for it


def test_a_narrow_plot_stacks_the_legend_in_rows_that_fit(qtbot):
    view = _curves(qtbot, 320, 3.0)
    wide_rows = view.legend.layout.rowCount()
    view.resize(420, 320)
    item = view.plot.getPlotItem()

    def refitted():
        legend = view.legend.sceneBoundingRect()
        return (
            view.legend.layout.rowCount() > wide_rows
            and item.sceneBoundingRect().contains(legend)
            and not legend.intersects(item.vb.sceneBoundingRect())
        )

    qtbot.waitUntil(refitted)  # the plot area moves down once the layout runs again


def _tick_label_rects(view: CurvesView) -> list[QRectF]:
    axis = view.plot.getPlotItem().getAxis("right")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [rect for rect, _, _ in texts]


@pytest.mark.parametrize(("height", "decades"), [(250, 1.5), (200, 6.0), (320, 3.0), (250, 0.0)])
def test_beta_tick_labels_never_overlap(qtbot, height, decades):
    view = _curves(qtbot, height, decades)
    rects = _tick_label_rects(view)
    assert rects  # β is labelled
    for first, second in itertools.combinations(rects, 2):
        assert not first.intersects(second), (first, second)


# Presentation mode, in the window.
@pytest.fixture
def window(shown_window):
    return shown_window(
        RunConfig(
            data=DataConfig(dataset="glyphs", size=600),
            model=ModelConfig(hidden=(32,), latent_dim=2),
            train=TrainConfig(batch_size=50, max_steps=100, seed=0, device="cpu"),
        )
    )


def _text_state(window) -> list:
    """What presentation mode enlarges: every text size and where each legend entry sits."""
    state = []
    for item, legend in (
        (window.curves.plot.getPlotItem(), window.curves.legend),
        (window.explorer.map.plot.getPlotItem(), window.explorer.map.legend),
    ):
        for side in ("left", "bottom", "right"):
            axis = item.getAxis(side)
            state.append((axis.style["tickFont"], axis.label.font().toString()))
        state.append((legend.opts["labelTextSize"], legend.boundingRect()))
        state.extend((label.text, label.opts.get("size")) for _, label in legend.items)
    return state


def test_presentation_hides_every_dock_but_the_views_and_gives_all_back(qtbot, window):
    window.resize(window.screen().availableSize() * 0.9)  # geometry a screen can give back
    runs_dock = window.findChild(QDockWidget, "runsDock")
    runs_dock.show()
    qtbot.waitUntil(runs_dock.isVisible)
    visible = {dock.objectName() for dock in window.findChildren(QDockWidget) if dock.isVisible()}
    text = _text_state(window)
    pens = {name: curve.opts["pen"].widthF() for name, curve in window.curves.curves.items()}

    window.set_presentation_mode(True)
    shown = [dock.objectName() for dock in window.findChildren(QDockWidget) if dock.isVisible()]
    assert shown == ["viewsDock"]
    for name, curve in window.curves.curves.items():
        assert curve.opts["pen"].widthF() == max(1.0, pens[name]) * PRESENTATION_LINE_SCALE

    window.set_presentation_mode(False)
    qtbot.waitUntil(runs_dock.isVisible)
    after = {dock.objectName() for dock in window.findChildren(QDockWidget) if dock.isVisible()}
    assert after == visible
    assert {
        name: curve.opts["pen"].widthF() for name, curve in window.curves.curves.items()
    } == pens
    assert _text_state(window) == text
