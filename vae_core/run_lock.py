"""The lock that lets one run at a time write a run folder.

The lock is an advisory lock (flock) on the folder's lock file, which the system releases when its
process ends, however it ends: taking over a dead run's lock is the same atomic step as taking a
free one, so of two writers started together exactly one wins. The file names its holder (process
and host), which the loser is told. A file that names another host is never taken over: its pid
means nothing here, and flock may not reach across the machines that share a folder. A lock file
that is not a regular file (a FIFO would block its reader) is refused in one line.
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from vae_core.errors import VaeStudioError

LOCK_NAME = "run.lock"
# Linux's pid_max is at most 2**22; pid_t is a 32-bit integer everywhere.
_MAX_PID = 2**31 - 1
_MAX_LOCK_BYTES = 4096
# How long a writer that lost the lock waits for the winner to write its name into the file.
_NAME_WAIT_S = 1.0


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


def this_host() -> str:
    return socket.gethostname()


def _alive(pid: int) -> bool:
    if not 0 < pid <= _MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _parse_holder(text: str) -> Holder | None:
    """The holder a lock file names ("PID HOST"; an older lock held the pid alone, written on
    this host); None for text that names none (empty, half-written, garbage)."""
    parts = text.split()
    if not 1 <= len(parts) <= 2 or not parts[0].isdigit() or len(parts[0]) > 10:
        return None
    pid = int(parts[0])
    if not 0 < pid <= _MAX_PID:
        return None
    return Holder(pid, parts[1] if len(parts) == 2 else this_host())


class RunFolderLock:
    """Held while a run writes `folder`; a second writer is refused with one line."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._handle: int | None = None

    def __enter__(self) -> RunFolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # the file is replaced between our open and our lock: open it anew
            handle = self._open()
            try:
                if self._take(handle):
                    self._handle = handle
                    return self
            except BaseException:
                os.close(handle)
                raise
            os.close(handle)
        raise VaeStudioError(f"{self.path}: cannot take the run folder's lock")

    def _open(self) -> int:
        self._refuse_special()
        try:
            handle = os.open(
                self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644
            )
        except OSError as error:
            raise VaeStudioError(f"{self.path}: cannot open the lock ({error.strerror})") from None
        if not stat.S_ISREG(os.fstat(handle).st_mode):  # replaced since it was looked at
            os.close(handle)
            self._refuse_special()
        return handle

    def _refuse_special(self) -> None:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISREG(mode):
            raise VaeStudioError(
                f"{self.path}: the run folder's lock is not a regular file (a FIFO, link, folder "
                "or device): remove it"
            )

    def _take(self, handle: int) -> bool:
        """Whether the lock is ours now; False where the file was replaced meanwhile."""
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._wait_for_name(handle)
            named = f" ({holder})" if holder is not None else ""
            raise VaeStudioError(
                f"{self.folder} is being written by another run{named}: wait for it to end, or "
                "choose another --out"
            ) from None
        if not self._still_the_file(handle):
            return False
        holder = _parse_holder(_read(handle))
        if holder is not None and holder.pid != os.getpid():
            self._refuse_live(holder)
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()} {this_host()}\n".encode(), 0)
        os.fsync(handle)
        return True

    def _refuse_live(self, holder: Holder) -> None:
        if holder.host != this_host():
            raise VaeStudioError(
                f"{self.folder} is being written by {holder}, another machine: if that run has "
                f"ended, remove {self.path}"
            )
        if _alive(holder.pid):  # a writer that took the lock without flock (an older version)
            raise VaeStudioError(
                f"{self.folder} is being written by another run ({holder}): wait for it to end, "
                "or choose another --out"
            )

    def _still_the_file(self, handle: int) -> bool:
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(handle)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def _wait_for_name(self, handle: int) -> Holder | None:
        """The winner's name, once it has written it (it writes just after taking the lock)."""
        deadline = time.monotonic() + _NAME_WAIT_S
        while True:
            holder = _parse_holder(_read(handle))
            alive = holder is not None and (holder.host != this_host() or _alive(holder.pid))
            if alive or time.monotonic() > deadline:
                return holder if alive else None
            time.sleep(0.01)

    def __exit__(self, *_) -> None:
        if self._handle is None:
            return
        # Removed while still locked, so that no writer locks a file about to vanish.
        if self._still_the_file(self._handle):
            self.path.unlink(missing_ok=True)
        os.close(self._handle)
        self._handle = None


def _read(handle: int) -> str:
    return os.pread(handle, _MAX_LOCK_BYTES, 0).decode("utf-8", "replace")
