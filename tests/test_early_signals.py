"""A stop signal from a headless command's first instruction ends it with the shell's exit code
and one line (issue 24: a SIGINT 0.3 s after start, while torch imported, gave a traceback)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_STATUS = Path("/proc/self/status")


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler of its own for SIGTERM (Python installs none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.skipif(not _STATUS.exists(), reason="reads signal dispositions from /proc")
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_while_the_command_starts_ends_it_in_one_line(tmp_path, number):
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "train", "--out", tmp_path / "run"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    # Signalled as soon as main.py answers signals: torch is still importing (seconds of it).
    for _ in range(100_000):
        if _catches_sigterm(process.pid) or process.poll() is not None:
            break
        time.sleep(0.001)  # a poll for the event, not a wait for a time
    process.send_signal(number)
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert process.returncode == 128 + number, err
    assert err.strip().splitlines() == [f"vae-studio: stopped by {signal.Signals(number).name}"]
    assert not (tmp_path / "run").exists()
