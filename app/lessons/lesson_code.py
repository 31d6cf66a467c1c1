"""A lesson as a short text code (Qt-free): what a teacher puts on the projector, as text and as a
QR code, and a student pastes to get the same set-up offline.

A code carries the lesson, the step on show, the view on show and the run's settings where they
differ from the step's. A shipped lesson travels by name and a digest of its file (every
installation has its text), a lesson of the teacher's own whole: compressed, it is about 1,400
characters, where a shipped one's code is under 200.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import qrcode
import tomli_w

from app.lessons.lessons import (
    Lesson,
    lesson_files,
    lesson_from_setup,
    parse_lesson,
    read_lesson,
    settings_of,
)
from vae_core.config import RunConfig
from vae_core.data import LOCATED_DATASETS, data_location
from vae_core.data.mnist_family import IDX_SOURCES, missing_files, missing_files_message
from vae_core.errors import VaeStudioError
from vae_core.limits import read_text_bounded

CODE_PREFIX = "VAE1."
# A code's JSON once inflated: a whole lesson is a few kB, so a larger one is not a lesson code
# (and inflating stops there rather than filling the memory).
_MAX_INFLATED = 256 * 1024
_MAX_CODE = 8 * 1024


@dataclass(frozen=True)
class SharedLesson:
    """What a code restores: the lesson, its step (0-based), the view on show, the run's config."""

    lesson: Lesson
    step: int
    view: str | None
    config: RunConfig
    # One line when the receiver's copy of a shipped lesson is not the sharer's.
    note: str | None = None


SHARED_SETUP_TITLE = "A shared set-up"


def shared_setup(config: RunConfig, tab: str | None, controls: dict, select: int | None) -> Lesson:
    """The window's set-up as a lesson of one step with no text (what a lesson code carries when no
    lesson is open): the teacher's words stay out, so that the code stays short."""
    lesson = lesson_from_setup(config, tab, controls, select)
    step = dataclasses.replace(
        lesson.steps[0], text="", look_for="The set-up your teacher shared: settings, view, map."
    )
    return dataclasses.replace(lesson, title=SHARED_SETUP_TITLE, text="", steps=(step,))


def _digest(lesson_path: Path) -> str:
    return hashlib.sha256(lesson_path.read_bytes()).hexdigest()[:12]


def _shipped_name(lesson: Lesson) -> str | None:
    """The shipped lesson's name when `lesson` was read from a shipped file."""
    for name, path in lesson_files().items():
        if lesson.path is not None and Path(lesson.path).resolve() == path.resolve():
            return name
    return None


def lesson_code(lesson: Lesson, step: int, view: str | None, config: RunConfig) -> str:
    """The code of `lesson` at `step` (0-based) with `view` on show and the run set up as `config`."""
    if not 0 <= step < len(lesson.steps):
        raise VaeStudioError(f"the lesson has steps 1..{len(lesson.steps)}, not {step + 1}")
    values: dict = {"step": step, "view": view, "settings": settings_of(config)}
    name = _shipped_name(lesson)
    if name is None:
        values["lesson"] = lesson.to_dict()
    else:
        values["name"], values["digest"] = name, _digest(lesson_files()[name])
    packed = zlib.compress(json.dumps(values, separators=(",", ":")).encode(), 9)
    return CODE_PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _inflated(code: str) -> dict:
    text = "".join(code.split())  # a code typed or pasted over several lines
    if len(text) > _MAX_CODE or not text.startswith(CODE_PREFIX):
        raise VaeStudioError(f"not a lesson code (a code starts with {CODE_PREFIX})")
    body = text[len(CODE_PREFIX) :]
    try:
        packed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, _MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof:
            raise VaeStudioError("a lesson code is incomplete or too large: was it cut short?")
        values = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError, RecursionError):
        raise VaeStudioError("a lesson code is damaged: copy it again, whole") from None
    if not isinstance(values, dict):
        raise VaeStudioError("a lesson code is damaged: copy it again, whole")
    return values


def read_lesson_code(code: str) -> SharedLesson:
    """The lesson and set-up `code` carries; one line when it is no code or names what is not here."""
    values = _inflated(code)
    note = None
    if "lesson" in values:
        lesson = parse_lesson(_as_toml(values["lesson"]), "in the code")
    else:
        name = values.get("name")
        path = lesson_files().get(name) if isinstance(name, str) else None
        if path is None:
            raise VaeStudioError(f"the code's lesson '{name}' is not among this machine's lessons")
        lesson = read_lesson(path)
        if values.get("digest") != _digest(path):
            note = f"this machine's lesson '{name}' is another version than the sharer's"
    step, view, settings = values.get("step"), values.get("view"), values.get("settings")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < len(lesson.steps):
        raise VaeStudioError(f"the code's step {step!r} is not one of the lesson's")
    if view is not None and not isinstance(view, str):
        raise VaeStudioError("the code's view is not a view's title")
    if not isinstance(settings, dict):
        raise VaeStudioError("the code's settings are not a table")
    try:
        config = RunConfig.from_dict(settings)
    except VaeStudioError as error:
        raise VaeStudioError(f"the code's settings: {error}") from None
    return SharedLesson(lesson, step, view, config, note)


def _as_toml(values) -> str:
    """The lesson's TOML text from the code's table, for the one lesson reader to check."""
    if not isinstance(values, dict):
        raise VaeStudioError("the code's lesson is not a table")
    try:
        return tomli_w.dumps(values)
    except (TypeError, ValueError):
        raise VaeStudioError("the code's lesson is not a lesson") from None


def missing_data(config: RunConfig) -> str | None:
    """One line naming the data a config trains on that this machine does not have, or None.
    Built-in sets are made in code; the MNIST family downloads when it can, so its files are
    named only as a note of where they go."""
    data = config.data
    kind, separator, _ = data.dataset.partition(":")
    if separator and kind in LOCATED_DATASETS:
        location = data_location(data)
        if location is not None and not location.exists():
            return f"this lesson trains on {data.dataset}, which this machine does not have"
    if data.dataset in IDX_SOURCES and (missing := missing_files(data.dataset, data)):
        message = missing_files_message(data.dataset, data, missing)
        return f"{message}; Train downloads them where the network allows"
    return None


@dataclass(frozen=True)
class CodeToShow:
    """A lesson's code and its QR image's pixels (H, W) uint8, 0 black and 255 white."""

    code: str
    qr_pixels: np.ndarray


def code_to_show(lesson: Lesson, step: int, view: str | None, config: RunConfig) -> CodeToShow:
    """The code and its QR image (reads the shipped lessons' files: off the GUI thread)."""
    code = lesson_code(lesson, step, view, config)
    return CodeToShow(code, np.asarray(qr_image(code).convert("L"), dtype=np.uint8).copy())


@dataclass(frozen=True)
class CodeToRestore:
    shared: SharedLesson
    missing: str | None  # the data this machine lacks, in one line


def code_to_restore(code: str) -> CodeToRestore:
    """What `code` restores and the data it needs that is not here (reads files: off the GUI
    thread); one line when it is no code."""
    shared = read_lesson_code(code)
    return CodeToRestore(shared, missing_data(shared.config))


def code_in_file(path: Path) -> CodeToRestore:
    """`code_to_restore` of the code a text file holds (a code is short: a larger file is none)."""
    text = read_text_bounded(path, _MAX_CODE, "lesson code")
    try:
        return code_to_restore(text)
    except VaeStudioError as error:
        raise VaeStudioError(f"{path}: {error}") from None


def qr_image(code: str):
    """The code as a QR image (a PIL image, black on white) for the projector."""
    picture = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=2)
    picture.add_data(code)
    picture.make(fit=True)
    return picture.make_image(fill_color="black", back_color="white").get_image()
