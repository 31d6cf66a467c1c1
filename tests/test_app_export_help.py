"""Export (figures, plots for slides, image grids) and help in plain words (readable choices,
tooltips, controls per family, the help pages, shortcuts whatever has the focus)."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog

from app.controls import ControlPanel
from app.help_pages import TOPICS
from app.state import RunStatus
from vae_core.checkpoint import save_trainer
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.training.trainer import Trainer

TOOLTIP = Qt.ItemDataRole.ToolTipRole
SIGNAL_TIMEOUT_MS = 10_000


def tiny_config() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=100_000, seed=0, device="cpu"),
    )


@pytest.fixture
def window(shown_window):
    return shown_window(tiny_config())


@pytest.fixture
def panel(qtbot):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    return panel


def test_combos_show_words_and_the_config_keeps_registry_names(panel):
    prior_texts = [panel.prior_combo.itemText(i) for i in range(panel.prior_combo.count())]
    assert prior_texts == ["standard normal N(0, I)", "mixture of Gaussians", "VampPrior"]
    assert panel.model_combo.itemText(panel.model_combo.findData("vqvae")) == "VQ-VAE"
    assert (
        panel.likelihood_combo.itemText(panel.likelihood_combo.findData("bernoulli")) == "Bernoulli"
    )
    # Scripts that select by registry name still find the item.
    panel.prior_combo.setCurrentText("vamp")
    assert panel.prior_combo.currentText() == "VampPrior"
    assert panel.model_combo.findText("vae") == 0
    config = panel.config()
    assert (config.model.family, config.model.prior, config.model.likelihood) == (
        "vae",
        "vamp",
        "bernoulli",
    )
    assert config.train.beta_schedule == "constant"


def test_apply_config_round_trips_every_choice(panel):
    config = RunConfig(
        model=ModelConfig(
            family="cvae", prior="mog", likelihood="gaussian", arch="conv", prior_components=7
        ),
        train=TrainConfig(beta_schedule="cyclical", device="cpu"),
    )
    panel.apply_config(config)
    assert panel.prior_combo.currentText() == "mixture of Gaussians"
    assert panel.schedule_combo.currentText() == "cyclical"
    assert panel.config().model == config.model
    assert panel.config().train.beta_schedule == "cyclical"
    vq = dataclasses.replace(config, model=ModelConfig(family="vqvae", codebook_size=16))
    panel.apply_config(vq)
    assert panel.config().model.codebook_size == 16 and panel.config().model.family == "vqvae"


def test_every_control_explains_itself_and_each_choice_has_a_tooltip(panel):
    for widget in panel.findChildren(object):
        if hasattr(widget, "toolTip") and widget.objectName().endswith(
            ("Combo", "SpinBox", "Edit", "Slider")
        ):
            assert len(widget.toolTip()) > 20, widget.objectName()
    assert "mixture of K Gaussians" in panel.prior_combo.itemData(
        panel.prior_combo.findData("mog"), TOOLTIP
    )
    panel.prior_combo.setCurrentText("mog")
    assert "learned mixture of K Gaussians" in panel.prior_combo.toolTip()
    for combo in panel.findChildren(QComboBox):
        if combo is not panel.dataset_combo and combo is not panel.device_combo:
            assert all(combo.itemData(i, TOOLTIP) for i in range(combo.count())), combo.objectName()


def test_controls_that_do_not_apply_to_the_family_are_disabled_with_a_reason(panel):
    panel.model_combo.setCurrentText("vae")
    assert panel.prior_combo.isEnabled() and panel.beta_spin.isEnabled()
    assert not panel.codebook_spin.isEnabled() and "only a VQ-VAE" in panel.codebook_spin.toolTip()
    assert not panel.components_spin.isEnabled()  # the standard normal has no components
    panel.prior_combo.setCurrentText("mog")
    assert (
        panel.components_spin.isEnabled() and "Not used now" not in panel.components_spin.toolTip()
    )
    panel.model_combo.setCurrentText("vqvae")
    assert panel.codebook_spin.isEnabled()
    for unused in (
        panel.prior_combo,
        panel.components_spin,
        panel.beta_spin,
        panel.beta_slider,
        panel.schedule_combo,
    ):
        assert not unused.isEnabled() and "Not used now" in unused.toolTip(), unused.objectName()
    # A run locks the settings; its end unlocks only what applies.
    panel.set_run_active(True)
    assert not panel.codebook_spin.isEnabled()
    panel.set_run_active(False)
    assert panel.codebook_spin.isEnabled() and not panel.prior_combo.isEnabled()


def _focus(qtbot, window, widget):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


def test_ctrl_e_exports_with_the_focus_in_the_beta_box(qtbot, window, monkeypatch):
    asked = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *args, **kwargs: asked.append(args[1]) or ("", "")
    )
    beta_box = window.findChild(QDoubleSpinBox, "betaSpinBox")
    _focus(qtbot, window, beta_box)
    with qtbot.waitSignal(window.named_actions["exportCsvAction"].triggered, timeout=2000):
        qtbot.keyClick(beta_box, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["Export metrics"]
    # Ctrl+E is a line edit's "end of line" only under X11 desktops; Ctrl+A is "select all"
    # everywhere: a window action bound to it fires all the same.
    select_all = QAction("Claimed by editors", window)
    select_all.setShortcut(QKeySequence("Ctrl+A"))
    window.addAction(select_all)
    with qtbot.waitSignal(select_all.triggered, timeout=2000):
        qtbot.keyClick(beta_box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    # Typing a number there still types.
    beta_box.lineEdit().selectAll()
    qtbot.keyClicks(beta_box, "2.5")
    assert beta_box.lineEdit().text() == "2.5"


def test_run_keys_work_with_the_focus_in_the_beta_box(qtbot, window):
    beta_box = window.findChild(QDoubleSpinBox, "betaSpinBox")
    _focus(qtbot, window, beta_box)
    with qtbot.waitSignal(window.runs.runStarted, timeout=SIGNAL_TIMEOUT_MS):
        qtbot.keyClick(beta_box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        pass
    _focus(qtbot, window, beta_box)
    qtbot.keyClick(beta_box, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.state.run.status is RunStatus.PAUSED, timeout=SIGNAL_TIMEOUT_MS)
    before = window.state.run.latest.step
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        qtbot.keyClick(beta_box, Qt.Key.Key_N)
    assert window.state.run.latest.step == before + 1
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        qtbot.keyClick(beta_box, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)


def test_a_space_typed_into_the_hidden_sizes_stays_text(qtbot, window):
    hidden = window.controls.hidden_edit
    _focus(qtbot, window, hidden)
    hidden.setText("400,")
    qtbot.keyClicks(hidden, " 200")
    assert hidden.text() == "400, 200" and window.state.run.status is RunStatus.IDLE


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A tiny 2-D model trained headless once for the export tests, opened in each window."""
    config = dataclasses.replace(
        tiny_config(), train=dataclasses.replace(tiny_config().train, max_steps=30)
    )
    path = tmp_path_factory.mktemp("run") / "checkpoint.safetensors"
    trainer = Trainer(config, load_data(config.data))
    for _ in trainer.run():
        pass
    save_trainer(path, trainer)
    return path


@pytest.fixture
def trained_window(qtbot, window, trained_checkpoint):
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        window.open_checkpoint(trained_checkpoint)
    qtbot.waitUntil(lambda: window.explorer.map.point_count() > 0, timeout=SIGNAL_TIMEOUT_MS)
    return window


def export_and_wait(qtbot, window, export, *args):
    with qtbot.waitSignal(window.figures.exported, timeout=SIGNAL_TIMEOUT_MS) as written:
        export(*args)
    return written.args[0]


def test_the_latent_map_exports_as_png_at_a_chosen_resolution(qtbot, trained_window, tmp_path):
    figures = trained_window.figures
    size = trained_window.explorer.map.plot.getPlotItem().sceneBoundingRect().size()
    path = export_and_wait(
        qtbot, trained_window, figures.export_figure, "latent_map", tmp_path / "map.png", 2
    )
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (round(size.width() * 2), round(size.height() * 2))
    assert not list(tmp_path.glob(".*partial"))


def test_the_latent_map_exports_as_svg_with_its_scatter_as_vectors(qtbot, trained_window, tmp_path):
    figures = trained_window.figures
    path = export_and_wait(
        qtbot, trained_window, figures.export_figure, "latent_map", tmp_path / "map.svg", None
    )
    root = ElementTree.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    tags = [element.tag.rsplit("}", 1)[-1] for element in root.iter()]
    # One path per encoded test example (and a few for the cursor and the frame); the tiles an image.
    assert tags.count("path") >= trained_window.explorer.map.point_count()
    assert tags.count("image") >= 1


def _page_stroke_widths(root) -> list[float]:
    """Each stroked shape's stroke width in page pixels: its inherited stroke-width through its
    groups' and its own transforms (a vector effect, which librsvg ignores, does not count)."""
    widths = []

    def visit(element, matrix, width, stroke):
        for child in element:
            transform = child.get("transform", "")
            own = np.eye(3)
            if transform.startswith("matrix"):
                numbers = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", transform)
                a, b, c, d, e, f = map(float, numbers)
                own = np.array([[a, c, e], [b, d, f], [0, 0, 1]])
            here = matrix @ own
            child_width = float(child.get("stroke-width", width))
            child_stroke = child.get("stroke", stroke)
            shape = child.tag.rsplit("}", 1)[-1] in ("path", "polyline", "rect")
            if shape and child_stroke != "none":
                widths.append(child_width * math.sqrt(abs(np.linalg.det(here[:2, :2]))))
            visit(child, here, child_width, child_stroke)

    visit(root, np.eye(3), 1.0, "none")
    return widths


def _ink(pixels: np.ndarray) -> float:
    """The share of pixels far from black (the map's background)."""
    return float((pixels.astype(int).sum(-1) > 150).mean())


def test_the_latent_maps_svg_draws_its_lines_as_the_screen_does_in_any_renderer(
    qtbot, trained_window, tmp_path
):
    """Cosmetic pens were written as one data unit wide with vector-effect, which librsvg,
    ImageMagick and LibreOffice ignore: contours became filled rings, each point a blob."""
    for name in ("tilesCheckBox", "priorCheckBox"):  # only the scatter and the cursor
        trained_window.findChild(QCheckBox, name).setChecked(False)
    figures = trained_window.figures
    path = export_and_wait(
        qtbot, trained_window, figures.export_figure, "latent_map", tmp_path / "map.svg", None
    )
    text = Path(path).read_text()
    assert "vector-effect" not in text
    widths = _page_stroke_widths(ElementTree.fromstring(text))
    assert len(widths) >= trained_window.explorer.map.point_count()
    assert max(widths) <= 3.0  # pens of one to two and a half pixels, as on the screen
    renderer = shutil.which("rsvg-convert")
    if renderer is None:
        pytest.skip("rsvg-convert (librsvg2-bin) is not installed: the SVG was checked as XML only")
    rendered = tmp_path / "rsvg.png"
    subprocess.run([renderer, path, "-o", str(rendered)], check=True, timeout=60)
    screen = export_and_wait(
        qtbot, trained_window, figures.export_figure, "latent_map", tmp_path / "qt.png", 1
    )
    with Image.open(rendered) as by_librsvg, Image.open(screen) as by_qt:
        librsvg_ink = _ink(np.asarray(by_librsvg.convert("RGB")))
        qt_ink = _ink(np.asarray(by_qt.convert("RGB")))
    # Discs with a thin rim, as Qt paints them: not filled blobs, not rings across the map.
    assert qt_ink > 0 and abs(librsvg_ink - qt_ink) < 0.25 * qt_ink


def test_plots_for_slides_are_light_and_the_screen_keeps_its_theme(qtbot, trained_window, tmp_path):
    curves = trained_window.curves.plot.getPlotItem()
    axis = curves.getAxis("left")
    screen_colours = (
        axis.textPen().color().name(),
        trained_window.curves.curves["beta"].opts["pen"].color().name(),
    )
    figures = trained_window.figures
    path = export_and_wait(
        qtbot, trained_window, figures.export_figure, "loss_curves", tmp_path / "curves.png", 1
    )
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    assert np.median(pixels) > 240  # a white page
    assert pixels.min() < 100  # with dark axes and text on it
    assert (
        axis.textPen().color().name(),
        trained_window.curves.curves["beta"].opts["pen"].color().name(),
    ) == screen_colours
    path = export_and_wait(
        qtbot, trained_window, figures.export_figure, "kl_per_dimension", tmp_path / "kl.svg", None
    )
    assert ElementTree.parse(path).getroot().tag.endswith("svg")


def test_grids_export_at_the_decoders_resolution(qtbot, trained_window, tmp_path):
    explorer, figures = trained_window.explorer, trained_window.figures
    height, width = 28, 28  # glyphs
    path = export_and_wait(
        qtbot, trained_window, figures.export_grid, explorer.traversals, tmp_path / "t.png"
    )
    steps = explorer.traversals.steps_spin.value()
    with Image.open(path) as image:
        assert image.size == (steps * width, 2 * height)  # a row per latent dimension
    explorer.interpolation.set_end("start", np.array([-1.0, 0.0]))
    explorer.interpolation.set_end("end", np.array([1.0, 1.0]))
    frames = explorer.interpolation.count_spin.value()
    path = export_and_wait(
        qtbot, trained_window, figures.export_grid, explorer.interpolation, tmp_path / "i.png"
    )
    with Image.open(path) as image:
        assert image.size == (frames * width, height)


def test_a_grid_with_nothing_to_show_and_a_bad_path_each_say_one_line(
    qtbot, trained_window, tmp_path
):
    figures = trained_window.figures
    with qtbot.waitSignal(trained_window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        figures.export_grid(trained_window.explorer.interpolation, tmp_path / "i.png")
    assert shown.args[0].startswith("nothing to export")
    blocker = tmp_path / "a file"
    blocker.write_text("")
    target = blocker / "map.png"
    with qtbot.waitSignal(trained_window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        figures.export_figure("latent_map", target, 1)
    assert str(target) in shown.args[0] and "\n" not in shown.args[0]


def test_the_menu_asks_for_a_file_and_its_filter_picks_the_format(
    qtbot, trained_window, tmp_path, monkeypatch
):
    def pick_svg(_parent, _title, _start, filters):
        return str(tmp_path / "picked"), next(f for f in filters.split(";;") if "SVG" in f)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", pick_svg)
    menu = trained_window.figures.menu
    latent_map = next(
        action for action in menu.actions() if action.text().startswith("&Latent Map")
    )
    with qtbot.waitSignal(trained_window.figures.exported, timeout=SIGNAL_TIMEOUT_MS) as written:
        latent_map.trigger()
    assert written.args == [str(tmp_path / "picked.svg")]


def test_help_opens_the_page_of_the_tab_on_show(qtbot, window):
    window.view_tabs.setCurrentWidget(window.kl_bars)
    window.findChild(QAction, "helpAction").trigger()
    pages = window.view_help.pages
    qtbot.waitUntil(pages.isVisible, timeout=2000)
    assert pages.objectName() == "helpDialog" and pages.topic == "kl_per_dim"
    assert "collapsed" in pages.browser.toPlainText()
    window.view_tabs.setCurrentWidget(window.explorer.traversals)
    window.findChild(QAction, "helpAction").trigger()
    assert pages.topic == "traversals" and pages.browser.toPlainText().startswith("Traversals")
    # The seed's pages each open their own.
    for title, topic, words in (
        ("ELBO identity", "elbo_identity", "amortization gap"),
        ("Gradient estimators", "gradient_estimators", "log-derivative"),
        ("Aggregate posterior", "aggregate_posterior", "Holes"),
        ("Rate–distortion", "rate_distortion", "rate"),
        ("Compare runs", "compare_runs", "Runs list"),
    ):
        tabs = window.view_tabs
        tabs.setCurrentIndex(
            next(index for index in range(tabs.count()) if tabs.tabText(index) == title)
        )
        window.findChild(QAction, "helpAction").trigger()
        assert pages.topic == topic and words in pages.browser.toPlainText()
    # Every topic has a page, titled, and written in the seed's terms.
    for row in range(pages.topic_list.count()):
        pages.topic_list.setCurrentRow(row)
        assert len(pages.browser.toPlainText()) > 200, pages.topic
    pages.topic_list.setCurrentRow(0)
    assert "prior" in pages.browser.toPlainText() and "q(z|x)" in pages.browser.toPlainText()


def test_the_help_pages_ship_inside_the_package():
    root = Path(__file__).parents[1]
    assert 'app = ["help/*.md"]' in (root / "pyproject.toml").read_text()
    assert sorted(path.stem for path in (root / "app" / "help").glob("*.md")) == sorted(TOPICS)
