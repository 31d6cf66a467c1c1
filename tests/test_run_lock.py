"""The run folder's lock cannot hang or race (issue 24): a lock file that is not a regular file is
refused in one line; of two writers started together against a stale lock exactly one wins and the
other is told who holds it; a lock that names another host is never taken over by its pid."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from vae_core.errors import VaeStudioError
from vae_core.run_lock import LOCK_NAME, RunFolderLock, this_host


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_fifo_as_the_lock_is_refused_in_one_line(tmp_path):
    os.mkfifo(tmp_path / LOCK_NAME)
    with pytest.raises(VaeStudioError, match="not a regular file") as error:
        with RunFolderLock(tmp_path):
            pass
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("make", [os.mkdir, lambda path: os.symlink("/dev/zero", path)])
def test_a_folder_or_a_link_to_a_device_as_the_lock_is_refused(tmp_path, make):
    make(tmp_path / LOCK_NAME)
    with pytest.raises(VaeStudioError, match="not a regular file"):
        with RunFolderLock(tmp_path):
            pass


@pytest.mark.parametrize("content", [f"{10**40}\n", "-5\n", "garbage\0\n", ""])
def test_a_lock_naming_no_live_process_is_taken_over(tmp_path, content):
    (tmp_path / LOCK_NAME).write_text(content)
    with RunFolderLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()} {this_host()}\n"
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_stale_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(f"{_dead_pid()} {this_host()}\n")
    with RunFolderLock(tmp_path):
        pass


def test_a_lock_held_on_another_host_is_never_taken_over_by_its_pid(tmp_path):
    (tmp_path / LOCK_NAME).write_text(f"{_dead_pid()} compute-node-17\n")
    with pytest.raises(VaeStudioError, match="on compute-node-17, another machine") as error:
        with RunFolderLock(tmp_path):
            pass
    assert f"remove {tmp_path / LOCK_NAME}" in str(error.value)
    assert (tmp_path / LOCK_NAME).read_text().endswith("compute-node-17\n")


def _race(folder) -> list[str]:
    """Two writers released at once on `folder`: "won" or the refusal, for each."""
    start, release = threading.Barrier(2), threading.Event()
    outcomes: list[str] = []

    def writer():
        start.wait()
        try:
            with RunFolderLock(folder):
                outcomes.append("won")
                release.wait()
        except VaeStudioError as error:
            outcomes.append(str(error))
            release.set()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_writers_started_together_on_a_stale_lock_one_wins_the_other_is_told(tmp_path):
    """Each writer opens the file itself, as two processes do (flock is per open file)."""
    for attempt in range(40):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        (folder / LOCK_NAME).write_text(f"{_dead_pid() if attempt == 0 else 999_999_999}\n")
        outcomes = _race(folder)
        assert outcomes.count("won") == 1, outcomes
        (told,) = [outcome for outcome in outcomes if outcome != "won"]
        assert f"being written by another run (process {os.getpid()} on {this_host()})" in told


def test_a_second_process_is_refused_while_the_first_holds_the_lock(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from vae_core.run_lock import RunFolderLock\n"
            f"with RunFolderLock(pathlib.Path({str(tmp_path)!r})):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(VaeStudioError, match=f"process {holder.pid} on"):
            with RunFolderLock(tmp_path):
                pass
    finally:
        holder.communicate("")
    assert holder.returncode == 0 and not (tmp_path / LOCK_NAME).exists()
    with RunFolderLock(tmp_path):
        pass
