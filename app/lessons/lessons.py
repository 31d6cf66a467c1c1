"""Lessons: a walk through the seed's theory, one TOML file each (Qt-free).

A lesson file holds its title and Markdown text, the run it sets up (the [data], [model] and
[train] tables of a run config, as presets have them), the controls it locks or hides (by
objectName) and its steps. The text sits in the same file, in multi-line strings: one file is what
a teacher mails or shares, and TOML's literal strings ('''...''') keep Markdown as typed.

Each step has a title, its text, a line of what to look for, and what it sets up in the window:
settings (`config`, tables like the lesson's that override them for this step; `beta`), the view
tab to show (`tab`, by title), controls to tick or set (`controls`, objectName = value), a run of
`train` steps, and the example to select on the map (`select`, an index). Reading refuses unknown
keys and bad values with one line naming the file and the key.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from vae_core.choices import check_choice
from vae_core.config import RunConfig
from vae_core.data import NAMED_DATASETS
from vae_core.errors import VaeStudioError
from vae_core.files import write_failure, write_text_atomically
from vae_core.limits import read_text_bounded
from vae_core.models import MODEL_FAMILIES
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ARCHITECTURES
from vae_core.models.priors import PRIORS
from vae_core.presets import files_by_name, preset_folders
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES
from vae_core.user_text import (
    MAX_LESSON_CHARS,
    check_control_value,
    check_lesson_text,
    check_markdown,
    check_step_count,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LESSON_SUFFIX = ".toml"
CONFIG_TABLES = ("data", "model", "train")
# Filled in from the data when a run is built: a saved lesson leaves them to its run.
_FROM_THE_DATA = {("model", "input_shape"), ("model", "num_classes")}
_OBJECT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The registries a config's names must come from (the trainer checks them only once a run starts).
_CHOICES = (
    ("model", "family", "model family", MODEL_FAMILIES),
    ("model", "prior", "prior", PRIORS),
    ("model", "likelihood", "likelihood", LIKELIHOODS),
    ("model", "arch", "architecture", ARCHITECTURES),
    ("train", "beta_schedule", "beta schedule", BETA_SCHEDULES),
    ("train", "lr_schedule", "learning-rate schedule", LR_SCHEDULES),
)
LESSON_KEYS = {"title", "text", "lock", "hide", "steps", *CONFIG_TABLES}
STEP_KEYS = {"title", "text", "look_for", "config", "beta", "tab", "controls", "train", "select"}
# What a teacher editing a saved lesson needs to know, at the top of the file.
FILE_HEADER = """\
# A VAE Studio lesson (File > Open Lesson...). Top level: title, text (Markdown), lock and hide
# (lists of control objectNames), and [data], [model], [train] as in a run config. Each [[steps]]:
# title, text, look_for, and what it sets up: tab (a view's title), select (an example's index),
# train (steps of a new run), beta, [steps.config.model] etc., [steps.controls] (objectName = value).

"""
PLACEHOLDER_TEXT = """What this lesson is about, in a few sentences (Markdown: *emphasis*, lists, `code`).

Each step below sets the window up; say in its text what the class should do and see."""


@dataclass(frozen=True)
class LessonStep:
    title: str
    text: str = ""
    look_for: str = ""
    # The step's own settings (tables like the lesson's), and the run config they make with the
    # lesson's; None when the step leaves the settings as they are.
    settings: dict = field(default_factory=dict)
    config: RunConfig | None = None
    beta: float | None = None
    tab: str | None = None
    controls: dict[str, bool | int | float | str] = field(default_factory=dict)
    train: int | None = None
    select: int | None = None

    def names(self) -> set[str]:
        """The objectNames the step refers to."""
        return set(self.controls)


@dataclass(frozen=True)
class Lesson:
    title: str
    text: str
    settings: dict  # the [data], [model] and [train] tables as written
    config: RunConfig
    steps: tuple[LessonStep, ...]
    lock: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()
    path: Path | None = None

    def names(self) -> set[str]:
        """Every objectName the lesson refers to (its steps' too)."""
        return {*self.lock, *self.hide, *(name for step in self.steps for name in step.names())}

    def tabs(self) -> set[str]:
        return {step.tab for step in self.steps if step.tab is not None}

    def to_dict(self) -> dict:
        values = {"title": self.title, "text": self.text}
        if self.lock:
            values["lock"] = list(self.lock)
        if self.hide:
            values["hide"] = list(self.hide)
        values.update(copy.deepcopy(self.settings))
        values["steps"] = [_step_dict(step) for step in self.steps]
        return values

    def to_toml(self) -> str:
        return FILE_HEADER + tomli_w.dumps(self.to_dict(), multiline_strings=True)


def _step_dict(step: LessonStep) -> dict:
    values = {"title": step.title, "text": step.text, "look_for": step.look_for}
    for key in ("beta", "tab", "train", "select"):
        if getattr(step, key) is not None:
            values[key] = getattr(step, key)
    if step.settings:
        values["config"] = copy.deepcopy(step.settings)
    if step.controls:
        values["controls"] = dict(step.controls)
    return values


# Reading.
def parse_lesson(text: str, source: str | Path = "<lesson>") -> Lesson:
    """The lesson in `text`; one line naming `source` and the key when it is not one."""
    try:
        check_lesson_text(text)
        values = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, VaeStudioError) as error:
        raise VaeStudioError(
            f"lesson {source}: not valid TOML ({' '.join(str(error).split())})"
            if isinstance(error, tomllib.TOMLDecodeError)
            else f"lesson {source}: {error}"
        ) from None
    except RecursionError:  # tomllib reads nested arrays by recursion
        raise VaeStudioError(f"lesson {source}: not a lesson (values nested too deep)") from None
    try:
        return _lesson(values, Path(source))
    except VaeStudioError as error:
        raise VaeStudioError(f"lesson {source}: {error}") from None


def read_lesson(path: str | Path) -> Lesson:
    path = Path(path)
    try:
        # Bytes: UTF-8 takes up to 4 a character; the characters are counted once decoded.
        text = read_text_bounded(path, 4 * MAX_LESSON_CHARS, "lesson")
    except VaeStudioError as error:
        raise VaeStudioError(f"lesson {error}") from None
    return dataclasses.replace(parse_lesson(text, path), path=path)


def _lesson(values: dict, path: Path) -> Lesson:
    _refuse_unknown(values, LESSON_KEYS, "")
    settings = {table: values[table] for table in CONFIG_TABLES if table in values}
    steps = values.get("steps")
    if not isinstance(steps, list) or not steps:
        raise VaeStudioError("needs at least one [[steps]] table")
    check_step_count(len(steps))
    return Lesson(
        title=_line(values, "title", "", required=True),
        text=_text(values, "text", ""),
        settings=settings,
        config=_config(settings, ""),
        steps=tuple(
            _step(step, settings, f"steps[{number}].") for number, step in enumerate(steps, start=1)
        ),
        lock=_names(values, "lock"),
        hide=_names(values, "hide"),
        path=path,
    )


def _step(values, lesson_settings: dict, prefix: str) -> LessonStep:
    if not isinstance(values, dict):
        raise VaeStudioError(f"'{prefix.rstrip('.')}' must be a table")
    _refuse_unknown(values, STEP_KEYS, prefix)
    settings = values.get("config", {})
    if not isinstance(settings, dict):
        raise VaeStudioError(f"'{prefix}config' must be a table")
    _refuse_unknown(settings, set(CONFIG_TABLES), prefix + "config.")
    beta = values.get("beta")
    if beta is not None and (
        isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 < beta < math.inf
    ):
        raise VaeStudioError(f"'{prefix}beta' must be a positive number, got {beta!r}")
    return LessonStep(
        title=_line(values, "title", prefix, required=True),
        text=_text(values, "text", prefix),
        look_for=_line(values, "look_for", prefix),
        settings=settings,
        config=_config(_merged(lesson_settings, settings), prefix + "config: ")
        if settings
        else None,
        beta=None if beta is None else float(beta),
        tab=_line(values, "tab", prefix) or None,
        controls=_controls(values.get("controls", {}), prefix + "controls"),
        train=_count(values, "train", prefix, least=1),
        select=_count(values, "select", prefix, least=0),
    )


def _refuse_unknown(values: dict, known: set[str], prefix: str) -> None:
    for key in values:
        if key not in known:
            raise VaeStudioError(f"unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")


def _text(values: dict, key: str, prefix: str) -> str:
    text = values.get(key, "")
    if not isinstance(text, str):
        raise VaeStudioError(f"'{prefix}{key}' must be a string, got {text!r}")
    return check_markdown(text, f"'{prefix}{key}'").strip()


def _line(values: dict, key: str, prefix: str, required: bool = False) -> str:
    text = _text(values, key, prefix)
    if "\n" in text:
        raise VaeStudioError(f"'{prefix}{key}' must be one line")
    if required and not text:
        raise VaeStudioError(f"needs a `{prefix}{key}` string")
    return text


def _count(values: dict, key: str, prefix: str, least: int) -> int | None:
    count = values.get(key)
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or count < least
    ):
        raise VaeStudioError(
            f"'{prefix}{key}' must be a whole number of at least {least}, got {count!r}"
        )
    return count


def _names(values: dict, key: str) -> tuple[str, ...]:
    names = values.get(key, [])
    if not isinstance(names, list):
        raise VaeStudioError(f"'{key}' must be a list of objectNames")
    for name in names:
        _object_name(name, key)
    return tuple(names)


def _object_name(name, key: str) -> None:
    if not isinstance(name, str) or not _OBJECT_NAME.match(name):
        raise VaeStudioError(
            f"'{key}' holds {name!r}, which is not an objectName (letters, digits, _)"
        )


def _controls(values, key: str) -> dict:
    if not isinstance(values, dict):
        raise VaeStudioError(f"'{key}' must be a table of objectName = value")
    for name, value in values.items():
        _object_name(name, key)
        if not isinstance(value, (bool, int, float, str)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise VaeStudioError(
                f"'{key}.{name}' must be true/false, a number or a string, got {value!r}"
            )
        check_control_value(value, f"{key}.{name}")
    return dict(values)


def _merged(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for table, values in override.items():
        if not isinstance(values, dict) or not isinstance(merged.get(table, {}), dict):
            merged[table] = values  # the config's own check names the table that is not one
        else:
            merged[table] = {**merged.get(table, {}), **values}
    return merged


def _config(settings: dict, prefix: str) -> RunConfig:
    try:
        config = RunConfig.from_dict(settings)
        for table, key, kind, registry in _CHOICES:
            check_choice(kind, getattr(getattr(config, table), key), registry)
        dataset = config.data.dataset
        if ":" not in dataset:  # "kind:LOCATION" names the user's own files, checked when read
            check_choice("data set", dataset, NAMED_DATASETS)
    except VaeStudioError as error:  # ConfigError names the key; a bad choice names its kind
        raise VaeStudioError(f"{prefix}{error}") from None
    return config


# The shipped lessons.
def lesson_folders() -> list[Path]:
    """Where lessons are read from: beside the presets, in the source tree or an install."""
    return [
        folder.parent / "lessons"
        for folder in preset_folders()
        if (folder.parent / "lessons").is_dir()
    ]


def lesson_files() -> dict[str, Path]:
    """The shipped lessons' files by name, in name order (a number prefix orders them)."""
    return files_by_name(lesson_folders(), LESSON_SUFFIX)


def shipped_lessons() -> list[Lesson]:
    """Every shipped lesson, in order (read from files: call it off the GUI thread)."""
    return [read_lesson(path) for path in lesson_files().values()]


def readable_lessons() -> tuple[list[Lesson], list[str]]:
    """The lessons that read, in order, and one line for each file that does not (for a menu:
    a bad file is left out, the others stay usable). Off the GUI thread, as shipped_lessons."""
    lessons, problems = [], []
    for path in lesson_files().values():
        try:
            lessons.append(read_lesson(path))
        except VaeStudioError as error:
            problems.append(str(error))
    return lessons, problems


# Writing.
def settings_of(config: RunConfig) -> dict:
    """The tables of `config` that differ from the defaults (what a lesson needs to write to set
    it up again), the data set always."""
    written, default = config.to_dict(), RunConfig().to_dict()
    settings = {}
    for table in CONFIG_TABLES:
        changed = {
            key: value
            for key, value in written[table].items()
            if value != default[table].get(key) and (table, key) not in _FROM_THE_DATA
        }
        if table == "data":
            changed["dataset"] = config.data.dataset
        if changed:
            settings[table] = changed
    return settings


def lesson_from_setup(
    config: RunConfig, tab: str | None, controls: dict, select: int | None
) -> Lesson:
    """A lesson of one step that sets the window up as described, with text for a teacher to write."""
    step = LessonStep(
        title="The set-up",
        text="What to do in this step, and why.",
        look_for="What the class should see on the map or in the view.",
        tab=tab,
        controls=dict(controls),
        select=select,
    )
    settings = settings_of(config)
    return Lesson("My lesson", PLACEHOLDER_TEXT, settings, _config(settings, ""), (step,))


def write_lesson(path: str | Path, lesson: Lesson) -> Path:
    """Write `lesson` to `path` atomically (a reader never sees half a file)."""
    path = Path(path)
    try:
        write_text_atomically(path, lesson.to_toml())
    except OSError as error:
        raise write_failure(path, error) from None
    return path
