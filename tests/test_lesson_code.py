"""A lesson as a code: every shipped lesson round-trips at every step, a teacher's own lesson
travels whole, and a damaged, oversized or foreign code is one line."""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib

import numpy as np
import pytest

from app.lessons.lesson_code import (
    CODE_PREFIX,
    SHARED_SETUP_TITLE,
    code_in_file,
    lesson_code,
    missing_data,
    qr_image,
    read_lesson_code,
    shared_setup,
)
from app.lessons.lessons import lesson_from_setup, shipped_lessons
from vae_core.config import DataConfig, RunConfig
from vae_core.errors import VaeStudioError


def _code_of(values: dict) -> str:
    packed = zlib.compress(json.dumps(values).encode())
    return CODE_PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


@pytest.fixture(scope="module")
def lessons():
    return shipped_lessons()


def test_every_shipped_lesson_round_trips_at_every_step_in_a_short_code(lessons):
    assert len(lessons) >= 9
    for lesson in lessons:
        for step, content in enumerate(lesson.steps):
            config = content.config or lesson.config
            code = lesson_code(lesson, step, content.tab, config)
            assert len(code) < 250
            shared = read_lesson_code(code)
            assert shared.lesson == lesson
            assert (shared.step, shared.view) == (step, content.tab)
            assert shared.config == config
            assert shared.note is None


def test_a_changed_set_up_travels_with_the_code(lessons):
    lesson = lessons[4]
    changed = dataclasses.replace(
        lesson.config, train=dataclasses.replace(lesson.config.train, beta=4.0, max_steps=777)
    )
    shared = read_lesson_code(lesson_code(lesson, 1, "Curves", changed))
    assert shared.config.train.beta == 4.0 and shared.config.train.max_steps == 777


def test_a_teachers_own_lesson_travels_whole_and_survives_line_breaks(lessons):
    own = lesson_from_setup(lessons[0].config, "Samples", {"tilesCheckBox": True}, 3)
    code = lesson_code(own, 0, "Samples", own.config)
    folded = "\n".join(code[start : start + 60] for start in range(0, len(code), 60))
    shared = read_lesson_code(folded)
    assert shared.lesson.to_dict() == own.to_dict()
    assert shared.lesson.steps[0].select == 3


@pytest.mark.parametrize(
    "code, message",
    [
        ("hello", "not a lesson code"),
        (CODE_PREFIX + "!!!!", "damaged"),
        (CODE_PREFIX + base64.urlsafe_b64encode(b"not zlib").decode(), "damaged"),
        (_code_of([1, 2]), "damaged"),
        (_code_of({"name": "99-no-such-lesson", "step": 0, "settings": {}}), "not among"),
        (_code_of({"name": "05-beta-vae", "step": 99, "settings": {}}), "step 99"),
        (_code_of({"name": "05-beta-vae", "step": 0, "settings": {"model": {"x": 1}}}), "x"),
        (_code_of({"lesson": {"title": "t"}, "step": 0, "settings": {}}), "steps"),
    ],
    ids=["no prefix", "not base64", "not zlib", "not a table", "unknown", "step", "key", "lesson"],
)
def test_a_bad_code_is_one_line(code, message):
    with pytest.raises(VaeStudioError, match=message) as raised:
        read_lesson_code(code)
    assert "\n" not in str(raised.value)


def test_a_code_that_inflates_past_its_limit_is_refused_without_inflating_it_all():
    bomb = CODE_PREFIX + base64.urlsafe_b64encode(zlib.compress(b" " * 10_000_000, 9)).decode()
    with pytest.raises(VaeStudioError, match="too large|not a lesson code"):
        read_lesson_code(bomb)


def test_data_the_student_lacks_is_named_in_one_line(tmp_path):
    gone = tmp_path / "gone"
    config = RunConfig(data=DataConfig(dataset=f"folder:{gone}"))
    assert str(gone) in missing_data(config)
    assert missing_data(RunConfig(data=DataConfig(dataset="glyphs"))) is None
    mnist = RunConfig(data=DataConfig(dataset="mnist", data_dir=str(tmp_path)))
    assert "mnist" in missing_data(mnist) and str(tmp_path) in missing_data(mnist)


def test_the_qr_image_is_black_on_white_and_grows_with_the_code(lessons):
    short = qr_image(lesson_code(lessons[0], 0, None, lessons[0].config))
    own = lesson_from_setup(lessons[0].config, None, {}, None)
    long = qr_image(lesson_code(own, 0, None, own.config))
    assert long.size[0] > short.size[0]
    assert set(np.unique(np.asarray(short.convert("L")))) == {0, 255}


def test_the_set_up_shared_without_a_lesson_is_short_and_round_trips(lessons):
    config = lessons[0].config
    controls = {"tilesCheckBox": True, "truePosteriorCheckBox": True, "importanceCountSpinBox": 10}
    lesson = shared_setup(config, "Samples", controls, 7)
    code = lesson_code(lesson, 0, "Samples", config)
    assert len(code) < 500
    shared = read_lesson_code(code)
    assert shared.lesson.to_dict() == lesson.to_dict() and shared.config == config
    assert (shared.lesson.title, shared.lesson.steps[0].select) == (SHARED_SETUP_TITLE, 7)


def test_a_code_in_a_text_file_reads_and_a_bad_one_names_the_file(lessons, tmp_path):
    lesson = lessons[2]
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(lesson_code(lesson, 1, None, lesson.config) + "\n", encoding="utf-8")
    bad.write_text("VAE1.nonsense", encoding="utf-8")
    restored = code_in_file(good)
    assert restored.shared.lesson == lesson and restored.missing is None
    with pytest.raises(VaeStudioError, match="bad.txt: a lesson code is damaged"):
        code_in_file(bad)
