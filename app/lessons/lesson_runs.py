"""A lesson's runs in the Runs list: each named after the lesson and its step ("Lesson 5 · β = 4"),
and, while the lesson lasts, the only runs ticked, so that its views (the rate-distortion plane,
Compare runs) show its own runs and no others. Leave puts the user's ticks back as they were."""

from __future__ import annotations

import re

from app.lessons.lessons import Lesson, LessonStep
from app.state.runs import RunEntry, RunsState

_NUMBERED_TITLE = re.compile(r"^\s*(\d+)\.\s")


def run_name(lesson: Lesson, step: LessonStep) -> str:
    """ "Lesson 5 · β = 4": the lesson's number (its title's, else its title) and the step's title
    up to its colon."""
    numbered = _NUMBERED_TITLE.match(lesson.title)
    which = f"Lesson {numbered.group(1)}" if numbered else lesson.title
    return f"{which} · {step.title.split(':', 1)[0].strip()}"


class LessonRuns:
    """Names the run a lesson's step starts, and keeps the ticks of the Runs list to the lesson's
    runs while it lasts. `runs` None: a window with no Runs list (nothing to name or tick)."""

    def __init__(self, runs: RunsState | None):
        self._runs = runs
        self._user_ticks: dict[RunEntry, bool] = {}
        self._own: list[RunEntry] = []
        self._next_name: str | None = None
        self._newest: RunEntry | None = None  # the newest run trained in the window
        if runs is not None:
            runs.added.connect(self._added)

    def begin(self) -> None:
        """A lesson opens: every run listed is unticked (its tick remembered)."""
        if self._runs is None:
            return
        self._user_ticks = {entry: entry.checked for entry in self._runs.entries}
        for entry in self._user_ticks:
            self._runs.set_checked(entry, False)

    def expect(self, name: str | None) -> None:
        """The next run the window starts is the lesson's, called `name` (None: no run expected)."""
        self._next_name = name

    def _added(self, entry: RunEntry) -> None:
        # A run trained in this window has no folder yet; an opened or restored one has its own.
        if entry.folder is not None:
            return
        self._newest = entry
        if self._next_name is None:
            return
        self._runs.update(entry, name=self._next_name)
        self._next_name = None
        self._own.append(entry)

    def newest_is_own(self) -> bool:
        """The window's newest run (the one training, if any) is the lesson's."""
        return self._newest is not None and self._newest in self._own

    def own(self) -> list[RunEntry]:
        """The lesson's runs still listed."""
        return [entry for entry in self._own if entry in self._runs.entries]

    def end(self) -> None:
        """The lesson is left: its runs unticked (still listed, by name), the user's ticks back."""
        if self._runs is None:
            return
        for entry in self.own():
            self._runs.set_checked(entry, False)
        for entry, checked in self._user_ticks.items():
            if entry in self._runs.entries:
                self._runs.set_checked(entry, checked)
        self._user_ticks.clear()
        self._own.clear()
        self._next_name = None
