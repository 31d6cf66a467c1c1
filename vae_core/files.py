"""Writing files so that a crash, a kill or a full disk never leaves half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from vae_core.errors import VaeStudioError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path | str, flags: int) -> None:
    handle = os.open(path, flags)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """`write(temporary)` fills a file beside `path`, which then replaces `path` in one rename: a
    reader sees the old file or the new one, and a failed write leaves nothing behind. The file
    reaches the disk before the rename, and the rename before this returns (as SQLite and git do:
    fsync the file, rename, fsync the folder), so a power cut cannot leave an empty file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    os.close(handle)
    try:
        write(temporary)
        # mkstemp makes the file private (0600): give it the mode any new file gets here.
        os.chmod(temporary, 0o666 & ~_umask())
        _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # folders cannot be opened for fsync on Windows
        _fsync(path.parent, os.O_RDONLY | os.O_DIRECTORY)


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def write_failure(path: Path, error: OSError) -> VaeStudioError:
    """The one line for a file that could not be written (a full disk, a folder not writable),
    naming it: the OSError of a failed write names no file."""
    return VaeStudioError(f"cannot write {path}: {error.strerror or error}")
