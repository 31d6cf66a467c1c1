"""Lessons: every shipped lesson loads and validates; the parser takes anything and answers with a
lesson or one line; a lesson sets the window up, locks and hides, steps and leaves; a bad file
gives one line; the window's set-up saved as a lesson opens to the same set-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QCheckBox, QComboBox, QWidget

from app.lessons.lesson_window import LOCKED_TIP, map_controls
from app.lessons.lessons import (
    LESSON_KEYS,
    STEP_KEYS,
    Lesson,
    lesson_files,
    parse_lesson,
    read_lesson,
    shipped_lessons,
    write_lesson,
)
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.models import build_model

SIGNAL_TIMEOUT_MS = 10_000
SOURCE_LESSONS = Path(__file__).resolve().parents[1] / "resources" / "lessons"
# The order of the seed: each shipped lesson's title holds its words, in this order.
SEED_ORDER = [
    "latent variable model",
    "importance sampling",
    "elbo",
    "amortized",
    "β-vae",
    "role of the prior",
    "conditional vae",
    "reparameterization",
    "vq-vae",
]


def small_lesson(**step) -> dict:
    """A lesson on 600 glyphs and a small network, with the step given and a second one."""
    first = {"title": "First", "text": "Step *one*.", "look_for": "Something.", **step}
    return {
        "title": "A small lesson",
        "text": "Some **Markdown**.",
        "lock": ["modelCombo", "latentDimSpinBox"],
        "hide": ["codebookSizeSpinBox"],
        "data": {"dataset": "glyphs", "size": 600},
        "model": {"family": "cvae", "hidden": [32], "latent_dim": 2},
        "train": {"beta": 4.0, "batch_size": 50, "heldout_every": 0, "device": "cpu"},
        "steps": [
            first,
            {
                "title": "Second",
                "tab": "Samples",
                "controls": {"tilesCheckBox": False, "pointsCheckBox": True},
            },
        ],
    }


def small_lesson_text(**step) -> str:
    return tomli_w.dumps(small_lesson(**step))


def lesson_file(tmp_path, name: str = "small.toml", **step) -> Path:
    path = tmp_path / name
    path.write_text(small_lesson_text(**step), encoding="utf-8")
    return path


def tiny_config() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=100_000, seed=0, device="cpu", heldout_every=0),
    )


@pytest.fixture
def window(shown_window):
    return shown_window(tiny_config())


def open_lesson(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.seed.lessons.lessonOpened, timeout=SIGNAL_TIMEOUT_MS):
        window.seed.lessons.open(path)


# The files.
def test_at_least_eight_lessons_ship_in_the_order_of_the_seed():
    lessons = shipped_lessons()
    assert len(lessons) >= 8 and set(lesson_files()) == {
        path.stem for path in SOURCE_LESSONS.glob("*.toml")
    }
    titles = [lesson.title.lower() for lesson in lessons]
    assert [
        next(i for i, title in enumerate(titles) if words in title) for words in SEED_ORDER
    ] == sorted(range(len(SEED_ORDER)))


@pytest.mark.parametrize("name", sorted(path.stem for path in SOURCE_LESSONS.glob("*.toml")))
def test_every_shipped_lesson_loads_validates_and_builds_its_models(name):
    lesson = read_lesson(SOURCE_LESSONS / f"{name}.toml")
    assert lesson.title and lesson.text and 2 <= len(lesson.steps) <= 4
    for config in (
        lesson.config,
        *(step.config for step in lesson.steps if step.config is not None),
    ):
        # Small and quick: a 2-D latent map of a built-in data set.
        assert config.model.latent_dim == 2 and config.data.dataset in (
            "glyphs",
            "moons",
            "rings",
            "gaussians",
            "spiral",
        )
        build_model(dataclasses.replace(config.model, input_shape=(1, 28, 28), num_classes=10))
    for step in lesson.steps:
        assert step.title and step.text and step.look_for and "\n" not in step.look_for
        assert step.train is None or step.train <= 1500


def test_a_lesson_written_and_read_again_is_the_same(tmp_path):
    for lesson in shipped_lessons():
        written = write_lesson(tmp_path / "again.toml", lesson)
        assert dataclasses.replace(read_lesson(written), path=None) == dataclasses.replace(
            lesson, path=None
        )


@pytest.mark.parametrize(
    ("where", "value", "key"),
    [
        (("colour",), "red", "'colour'"),
        (("model", "familiy"), "vae", "'model.familiy'"),
        (("model", "family"), "gan", "model family 'gan'"),
        (("train", "beta"), "high", "'train.beta'"),
        (("steps", 1, "beta"), -1, "'steps[2].beta'"),
        (("steps", 1, "select"), -2, "'steps[2].select'"),
        (("steps", 1, "when"), 3, "'steps[2].when'"),
        (("steps", 1, "config"), {"model": {"prior": "flat"}}, "prior 'flat'"),
        (("steps", 1, "controls"), {"tilesCheckBox": [1]}, "'steps[2].controls.tilesCheckBox'"),
        (("lock",), ["no such name"], "'lock'"),
    ],
)
def test_a_bad_key_or_value_gives_one_line_naming_the_file_and_the_key(tmp_path, where, value, key):
    values = small_lesson()
    table = values
    for part in where[:-1]:
        table = table[part]
    table[where[-1]] = value
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    with pytest.raises(VaeStudioError) as raised:
        read_lesson(path)
    message = str(raised.value)
    assert message.startswith(f"lesson {path}: ") and key in message and "\n" not in message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_give_a_lesson_or_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.toml"
    path.write_bytes(data)
    try:
        assert isinstance(read_lesson(path), Lesson)
    except VaeStudioError as error:
        assert "\n" not in str(error)


def test_values_nested_too_deep_give_one_line():
    with pytest.raises(VaeStudioError, match="nested too deep"):
        parse_lesson("title = " + "[" * 10_000, "deep.toml")


_SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 2000), st.floats(allow_nan=True), st.text(max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_STEP = st.dictionaries(st.sampled_from(sorted(STEP_KEYS | {"other"})), _VALUES, max_size=6)
_LESSON = st.fixed_dictionaries(
    {
        "title": st.one_of(st.just("A lesson"), _SCALARS),
        "steps": st.one_of(st.lists(_STEP, max_size=3), _VALUES),
    },
    optional={key: _VALUES for key in sorted(LESSON_KEYS - {"title", "steps"}) + ["other"]},
)


@settings(max_examples=150, deadline=None)
@given(_LESSON)
def test_any_lesson_shaped_table_gives_a_lesson_or_one_line(values):
    try:
        text = tomli_w.dumps(values)
    except (TypeError, ValueError):  # NaN and other values TOML cannot write
        return
    try:
        assert isinstance(parse_lesson(text, "fuzz.toml"), Lesson)
    except VaeStudioError as error:
        assert str(error).startswith("lesson fuzz.toml: ") and "\n" not in str(error)


# The window.
def test_opening_a_lesson_sets_the_controls_locks_and_hides(qtbot, window, tmp_path):
    open_lesson(qtbot, window, lesson_file(tmp_path))
    controls = window.controls
    assert controls.model_combo.name() == "cvae" and controls.beta == pytest.approx(4.0)
    assert controls.config().data.size == 600
    for widget in (controls.model_combo, controls.latent_dim_spin):
        assert not widget.isEnabled() and widget.toolTip() == LOCKED_TIP
    assert controls.codebook_spin.isHidden()
    panel = window.seed.lessons.panel
    assert window.seed.lessons.dock.isVisible() and panel.title.text() == "A small lesson"
    assert "Markdown" in panel.text.toPlainText() and panel.look_for.text() == "Something."
    assert [button.objectName() for button in panel.step_buttons()] == [
        "lessonStepButton1",
        "lessonStepButton2",
    ]
    assert panel.step_buttons()[0].isChecked()
    # The settings panel enables its controls again when a run ends: the lesson's stay locked.
    controls.set_run_active(True)
    controls.set_run_active(False)
    assert not controls.model_combo.isEnabled() and controls.hidden_edit.isEnabled()


def test_a_step_button_applies_its_step_and_leaving_unlocks(qtbot, window, tmp_path):
    open_lesson(qtbot, window, lesson_file(tmp_path))
    lessons, map_view = window.seed.lessons, window.explorer.map
    map_view.tiles_check.setChecked(True)
    map_view.points_check.setChecked(False)
    button = window.findChild(QWidget, "lessonStepButton2")
    with qtbot.waitSignal(lessons.stepApplied, check_params_cb=lambda number: number == 2):
        button.click()
    tabs = window.view_tabs
    assert tabs.tabText(tabs.currentIndex()) == "Samples"
    assert not map_view.tiles_check.isChecked() and map_view.points_check.isChecked()
    assert (
        button.isChecked()
        and lessons.panel.current == 2
        and not lessons.panel.next_button.isEnabled()
    )
    lessons.panel.previous_button.click()
    assert lessons.panel.current == 1
    tip = window.controls.hidden_edit.toolTip()
    lessons.panel.leave_button.click()
    controls = window.controls
    assert controls.model_combo.isEnabled() and controls.latent_dim_spin.isEnabled()
    assert controls.model_combo.toolTip() != LOCKED_TIP and controls.hidden_edit.toolTip() == tip
    assert (
        not controls.codebook_spin.isHidden() and not controls.codebook_spin.isEnabled()
    )  # not used by a CVAE
    assert not lessons.dock.isVisible() and lessons.lesson is None


def test_a_name_the_window_lacks_gives_one_line_and_the_rest_applies(qtbot, window, tmp_path):
    path = lesson_file(
        tmp_path, tab="Samples", controls={"noSuchCheckBox": True, "pointsCheckBox": False}
    )
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.seed.lessons.open(path)
    assert (
        "noSuchCheckBox" in shown.args[0]
        and "step 1" in shown.args[0]
        and "\n" not in shown.args[0]
    )
    tabs = window.view_tabs
    assert (
        tabs.tabText(tabs.currentIndex()) == "Samples"
        and not window.explorer.map.points_check.isChecked()
    )


def test_a_bad_lesson_file_gives_one_line_and_the_app_keeps_running(qtbot, window, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        small_lesson_text().replace('family = "cvae"', 'family = "gan"'), encoding="utf-8"
    )
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.seed.lessons.open(bad)
    assert (
        shown.args[0].startswith(f"lesson {bad}: ")
        and "'gan'" in shown.args[0]
        and "\n" not in shown.args[0]
    )
    assert window.seed.lessons.lesson is None and window.controls.model_combo.isEnabled()
    open_lesson(qtbot, window, lesson_file(tmp_path))  # the next one opens
    assert window.seed.lessons.lesson.title == "A small lesson"


def test_a_training_step_trains_then_selects_its_example(qtbot, window, tmp_path):
    path = lesson_file(tmp_path, train=20, select=3, controls={"priorCheckBox": False})
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=30_000, check_params_cb=lambda reason: reason == "finished"
    ):
        window.seed.lessons.open(path)
    assert window.state.run.latest.step == 20 and window.state.run.config.model.family == "cvae"
    qtbot.waitUntil(lambda: window.explorer.state.selected == 3, timeout=SIGNAL_TIMEOUT_MS)
    assert not window.explorer.map.prior_check.isChecked()


def test_the_help_menu_lists_the_shipped_lessons(qtbot, window):
    lessons = window.seed.lessons
    assert [action.isEnabled() for action in lessons.menu.actions()] == [
        False
    ]  # read when first opened
    with qtbot.waitSignal(lessons.lessonsListed, timeout=SIGNAL_TIMEOUT_MS):
        lessons.menu.aboutToShow.emit()
    titles = [lesson.title for lesson in shipped_lessons()]
    assert [action.text() for action in lessons.menu.actions()] == titles
    with qtbot.waitSignal(lessons.lessonOpened, timeout=SIGNAL_TIMEOUT_MS):
        lessons.menu.actions()[1].trigger()
    assert lessons.lesson.title == titles[1] and lessons.panel.current == 1
    menu_titles = [action.text() for action in window.menuBar().actions()]
    open_action = window.named_actions["openLessonAction"]
    assert "&Help" in menu_titles and open_action.text().startswith("Open")


def test_the_set_up_saved_as_a_lesson_opens_to_the_same_set_up(qtbot, window, tmp_path):
    controls, map_view, lessons = window.controls, window.explorer.map, window.seed.lessons
    controls.apply_config(
        dataclasses.replace(
            tiny_config(),
            model=dataclasses.replace(tiny_config().model, prior="mog", prior_components=4),
        )
    )
    controls.set_beta(2.5)
    window.view_tabs.setCurrentIndex(3)
    map_view.tiles_check.setChecked(False)
    map_view.points_check.setChecked(True)
    before = (controls.config(), window.view_tabs.currentIndex(), _map_state(window))
    path = tmp_path / "saved.toml"
    with qtbot.waitSignal(lessons.lessonSaved, timeout=SIGNAL_TIMEOUT_MS):
        lessons.save(path)
    text = path.read_text(encoding="utf-8")
    assert (
        'title = "My lesson"' in text and "[model]" in text and 'prior = "mog"' in text
    )  # readable, editable
    assert not list(tmp_path.glob("*.partial"))  # written atomically: no temporary left
    controls.apply_config(tiny_config())
    window.view_tabs.setCurrentIndex(0)
    map_view.tiles_check.setChecked(True)
    map_view.points_check.setChecked(False)
    open_lesson(qtbot, window, path)
    assert (controls.config(), window.view_tabs.currentIndex(), _map_state(window)) == before


def _map_state(window) -> dict:
    return {
        widget.objectName(): widget.isChecked()
        if isinstance(widget, QCheckBox)
        else widget.currentText()
        if isinstance(widget, QComboBox)
        else widget.value()
        for widget in map_controls(
            window.explorer.map, window.findChild(QWidget, "seedMapControls")
        )
    }


def test_every_shipped_lessons_names_exist_in_the_window(qtbot):
    from app.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    tabs = {window.view_tabs.tabText(index) for index in range(window.view_tabs.count())}
    missing = set()
    for lesson in shipped_lessons():
        missing |= {name for name in lesson.names() if window.findChild(QWidget, name) is None}
        missing |= {f"tab '{title}'" for title in lesson.tabs() - tabs}
    assert not missing, f"named by a lesson but not in the window: {', '.join(sorted(missing))}"
