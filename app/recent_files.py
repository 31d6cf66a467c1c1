"""File > Open Recent: the checkpoints (files, run or model folders) the user opened and the run
folders followed lately, newest first, kept in the window's QSettings. Choosing one opens it
through the path it was opened by first; one no longer there is named in one line and dropped.
Whether it is there is asked on a worker (a slow or gone network drive must not hang the menu)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QMenu, QWidget

from app.controllers.checkpoints import CheckpointController
from app.controllers.job_kinds import FILE_READ, Call
from app.controllers.model_jobs import Answer, ModelJobs
from app.file_actions import FileActions
from app.state import ShownModel
from vae_core.checkpoint import Checkpoint

RECENT_COUNT = 8
_RECENT_KEY = "files/recentOpened"
CHECKPOINT, FOLLOWED = "checkpoint", "followed"


@dataclass(frozen=True)
class RecentEntry:
    kind: str  # CHECKPOINT (opened with Open Checkpoint) or FOLLOWED (Follow Run Folder)
    path: str

    @property
    def title(self) -> str:
        path = Path(self.path)
        name = f"{path.name}  ({path.parent})"
        return f"Follow {name}" if self.kind == FOLLOWED else name


def recent_entries(settings: QSettings) -> list[RecentEntry]:
    """The entries kept, newest first (malformed ones left out)."""
    try:
        stored = json.loads(settings.value(_RECENT_KEY, "[]"))
    except (TypeError, ValueError):
        return []
    entries = []
    for item in stored if isinstance(stored, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        if item.get("kind") in (CHECKPOINT, FOLLOWED):
            entries.append(RecentEntry(item["kind"], item["path"]))
    return entries[:RECENT_COUNT]


def _store(settings: QSettings, entries: list[RecentEntry]) -> None:
    kept = [{"kind": entry.kind, "path": entry.path} for entry in entries[:RECENT_COUNT]]
    settings.setValue(_RECENT_KEY, json.dumps(kept))


def remember(settings: QSettings, entry: RecentEntry) -> None:
    _store(settings, [entry, *(e for e in recent_entries(settings) if e != entry)])


def forget(settings: QSettings, entry: RecentEntry) -> None:
    _store(settings, [e for e in recent_entries(settings) if e != entry])


def _still_there(entry: RecentEntry) -> tuple[RecentEntry, bool]:
    """On a worker: the entry, and whether its file or folder is still there."""
    return entry, Path(entry.path).exists()


class RecentFiles(QObject):
    """The Open Recent menu and what it remembers: checkpoints once on show (not a followed
    folder's, which the folder's entry stands for) and folders once followed."""

    def __init__(
        self,
        settings: QSettings,
        jobs: ModelJobs,
        files: FileActions,
        checkpoints: CheckpointController,
        shown: ShownModel,
        show_error: Callable[[str], None],
        parent: QWidget,
    ):
        super().__init__(parent)
        self.settings = settings
        self.files = files
        self.shown = shown
        self.show_error = show_error
        self.openers = {CHECKPOINT: files.open, FOLLOWED: files.follow}
        self.menu = QMenu("Open &Recent", parent)
        self.menu.setObjectName("recentMenu")
        self.menu.aboutToShow.connect(self.fill_menu)
        self.fill_menu()
        self._checks = jobs.line(FILE_READ, self, self._checked, self._check_failed)
        checkpoints.opened.connect(self._checkpoint_opened)
        files.follower.following.connect(self._followed)

    def _followed(self, folder: str) -> None:
        self.remember(FOLLOWED, folder)

    def _checkpoint_opened(self, _checkpoint: Checkpoint) -> None:
        if not self.files.follower.active and self.shown.model is not None:
            self.remember(CHECKPOINT, self.shown.model.path)

    def remember(self, kind: str, path: str) -> None:
        remember(self.settings, RecentEntry(kind, str(path)))
        self.fill_menu()

    def fill_menu(self) -> None:
        """The entries as the settings hold them now (another window may have added some)."""
        self.menu.clear()
        entries = recent_entries(self.settings)
        for entry in entries:
            action = self.menu.addAction(entry.title)
            action.setToolTip(entry.path)
            action.triggered.connect(lambda _=False, chosen=entry: self.open(chosen))
        self.menu.setEnabled(bool(entries))

    def open(self, entry: RecentEntry) -> None:
        """Open `entry` once a worker has found it still there."""
        self._checks.ask(Call(_still_there, (entry,)))

    def _checked(self, answer: Answer) -> None:
        entry, there = answer.value
        if there:
            self.openers[entry.kind](entry.path)
            return
        forget(self.settings, entry)
        self.fill_menu()
        self.show_error(
            f"{entry.path}: no longer there (moved or deleted?), removed from Open Recent"
        )

    def _check_failed(self, error: Exception) -> None:
        self.show_error(f"Open Recent: {error}")
