"""The window starts and stays usable whatever the user's files hold (issue 24): a bad preset is
one message naming its file, skipped, and the other presets work; a preset that is a FIFO does not
hang start-up; lessons are bounded in size, nesting and steps before they reach the window."""

from __future__ import annotations

import os

import pytest

from app.lessons.lessons import parse_lesson
from app.main_window import MainWindow
from vae_core import presets
from vae_core.errors import VaeStudioError

_GOOD = 'description = "a good one"\n[model]\nlatent_dim = 3\n'
_BAD = {
    "invalid-toml.toml": 'description = "x\n',
    "no-description.toml": "[model]\nlatent_dim = 2\n",
    "unknown-key.toml": 'description = "x"\n[model]\nlatent = 2\n',
    "deep.toml": 'description = "x"\na = ' + "[" * 3000 + "]" * 3000 + "\n",
}


@pytest.fixture
def preset_folder(tmp_path, monkeypatch):
    (tmp_path / "good.toml").write_text(_GOOD)
    for name, text in _BAD.items():
        (tmp_path / name).write_text(text)
    os.mkfifo(tmp_path / "fifo.toml")
    monkeypatch.setattr(presets, "preset_folders", lambda: [tmp_path])
    return tmp_path


def test_bad_presets_are_skipped_each_named_in_one_line(preset_folder):
    found, problems = presets.read_presets()
    assert list(found) == ["good"]
    assert len(problems) == len(_BAD) + 1
    for name in [*_BAD, "fifo.toml"]:
        (line,) = [problem for problem in problems if str(preset_folder / name) in problem]
        assert "\n" not in line
    assert any("not a regular file" in problem for problem in problems)


def test_the_window_opens_with_bad_presets_and_names_each(qtbot, preset_folder):
    window = MainWindow()
    qtbot.addWidget(window)
    combo = window.controls.preset_combo
    assert [combo.itemText(index) for index in range(combo.count())] == ["(none)", "good"]
    shown = window.messages._error_box.text()
    for name in [*_BAD, "fifo.toml"]:
        assert name in shown
    combo.textActivated.emit("good")
    assert window.controls.latent_dim_spin.value() == 3


def _lesson(text: str = "Hello", steps: int = 1, controls: str = "") -> str:
    step = f'[[steps]]\ntitle = "s"\ntext = "t"\n{controls}'
    return f'title = "T"\ntext = """{text}"""\n' + step * steps


def test_a_lesson_of_nested_html_tables_is_refused_before_the_window_renders_it():
    nested = "<table><tr><td>" * 100 + "x" + "</td></tr></table>" * 100
    # Each table holds a row and a cell: 300 elements deep.
    with pytest.raises(VaeStudioError, match="'text' nests 300 levels deep") as error:
        parse_lesson(_lesson(nested), "nested.toml")
    assert "nested.toml" in str(error.value)


def test_a_lesson_of_thirty_thousand_steps_is_refused():
    with pytest.raises(VaeStudioError, match="long.toml: holds 990,031 characters"):
        parse_lesson(_lesson(steps=30_000), "long.toml")
    with pytest.raises(VaeStudioError, match="short.toml: has 101 steps, more than the 100"):
        parse_lesson(_lesson(steps=101), "short.toml")


def test_a_lesson_too_large_is_refused():
    with pytest.raises(VaeStudioError, match="characters"):
        parse_lesson(_lesson("x" * 2_000_000), "large.toml")


def test_a_control_value_past_what_a_spin_box_takes_is_refused_at_reading():
    """Refused before any of the lesson is applied, not half way through applying it."""
    with pytest.raises(VaeStudioError, match="latentDimSpinBox"):
        parse_lesson(
            _lesson(controls=f"[steps.controls]\nlatentDimSpinBox = {2**63 - 1}\n"), "big.toml"
        )


def test_a_lesson_within_the_bounds_reads():
    lesson = parse_lesson(_lesson("<table><tr><td>a</td></tr></table>\n\n> quoted", steps=3))
    assert len(lesson.steps) == 3


@pytest.fixture(scope="module")
def saved_trainer(tmp_path_factory):
    from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vae_core.data import load_data
    from vae_core.training.trainer import Trainer

    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=300),
        model=ModelConfig(hidden=(8,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=2, log_every=2, device="cpu", heldout_every=0),
    )
    trainer = Trainer(config, load_data(config.data))
    list(trainer.run())
    return trainer


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_checkpoint_whose_history_holds_nan_or_inf_leaves_the_window_usable(
    qtbot, tmp_path, saved_trainer, value
):
    import numpy as np

    from vae_core.checkpoint import save_trainer
    from vae_core.metrics_columns import METRICS_COLUMNS

    history = np.ones((3, len(METRICS_COLUMNS)))
    history[:, 0] = [1, 2, 3]
    history[1, 4:] = value
    path = tmp_path / "odd-history.safetensors"
    save_trainer(path, saved_trainer, history=history)
    window = MainWindow()
    qtbot.addWidget(window)
    checkpoints = window.checkpoints
    signal = checkpoints.opened if value != value else checkpoints.errorOccurred
    with qtbot.waitSignal(signal, timeout=20_000) as outcome:
        checkpoints.open(path)
    window.refresh_views()
    if value == value:  # inf: refused in one line naming the file
        assert str(path) in outcome.args[0] and "infinite" in outcome.args[0]
    assert not window.state.run.status.training
    assert window.run_actions.train_button.isEnabled()


def test_a_bad_lesson_file_is_named_and_the_others_are_listed(qtbot, tmp_path, monkeypatch):
    from app.lessons import lessons as lesson_files

    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "01-good.toml").write_text(_lesson("fine"))
    (folder / "02-nested.toml").write_text(_lesson("<b>" * 50))
    os.mkfifo(folder / "03-fifo.toml")
    monkeypatch.setattr(lesson_files, "lesson_folders", lambda: [folder])
    window = MainWindow()
    qtbot.addWidget(window)
    lessons = window.seed.lessons
    with qtbot.waitSignal(lessons.lessonsListed, timeout=20_000):
        lessons.menu.aboutToShow.emit()
    assert [action.text() for action in lessons.menu.actions()] == ["T"]
    shown = window.messages._error_box.text()
    assert "02-nested.toml" in shown and "03-fifo.toml" in shown
