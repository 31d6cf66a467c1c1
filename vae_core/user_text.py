"""Bounds on the Markdown a user's file brings to the window (a lesson's text, its steps), checked
before any of it reaches a renderer: Qt lays out nested tables in time that grows steeply with their
depth (100 nested tables froze the window for minutes, 3,000 crashed it), and a file of tens of
thousands of steps is a button each. Qt-free, so that a worker can check a file before the window
sees it."""

from __future__ import annotations

import re

from vae_core.errors import VaeStudioError

# A lesson file: its text, steps and settings (the shipped ones take a few kilobytes). Measured on
# a loaded 2-core machine, offscreen: 64 K characters of tables nested 8 deep render in 0.35 s,
# 256 K nested 16 deep in 2.6 s.
MAX_LESSON_CHARS = 64 * 1024
MAX_LESSON_STEPS = 100
# HTML elements inside each other, and block quotes inside each other, in one text.
MAX_MARKUP_NESTING = 8
# What a spin box or a slider takes: Qt holds their values in a C int.
MAX_CONTROL_INT = 2**31 - 1

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^<>]*?(/?)>")
# Elements with no closing tag: they never nest.
_VOID = {
    "br",
    "hr",
    "img",
    "input",
    "meta",
    "link",
    "area",
    "base",
    "col",
    "embed",
    "source",
    "wbr",
}
_QUOTES = re.compile(r"^[ \t]*((?:>[ \t]*)+)", re.MULTILINE)


def markup_depth(text: str) -> int:
    """How deeply HTML elements, or block quotes, nest in `text` (the deeper of the two)."""
    depth = deepest = 0
    for match in _TAG.finditer(text):
        closing, name, self_closing = match.groups()
        if name.lower() in _VOID or self_closing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    quotes = max((match.group(1).count(">") for match in _QUOTES.finditer(text)), default=0)
    return max(deepest, quotes)


def check_markdown(text: str, label: str) -> str:
    """`text`, refused in one line naming `label` where it is too large or nests too deeply."""
    if len(text) > MAX_LESSON_CHARS:
        raise VaeStudioError(
            f"{label} holds {len(text):,} characters, more than the {MAX_LESSON_CHARS:,} allowed"
        )
    depth = markup_depth(text)
    if depth > MAX_MARKUP_NESTING:
        raise VaeStudioError(
            f"{label} nests {depth} levels deep (HTML or quotes), more than the "
            f"{MAX_MARKUP_NESTING} allowed"
        )
    return text


def check_lesson_text(text: str) -> None:
    """A lesson file's whole text, before it is parsed."""
    if len(text) > MAX_LESSON_CHARS:
        raise VaeStudioError(
            f"holds {len(text):,} characters, more than the {MAX_LESSON_CHARS:,} allowed"
        )


def check_step_count(steps: int) -> None:
    if steps > MAX_LESSON_STEPS:
        raise VaeStudioError(f"has {steps:,} steps, more than the {MAX_LESSON_STEPS} allowed")


def check_control_value(value, label: str) -> None:
    """A value a lesson sets a control to: an integer a spin box takes."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_CONTROL_INT:
        raise VaeStudioError(
            f"'{label}' is {value}, more than a control takes (at most {MAX_CONTROL_INT:,})"
        )
