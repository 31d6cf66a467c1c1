"""Stop signals answered from a headless command's first instruction: a SIGINT while torch is
still importing ends the command with the shell's exit code (128 + the signal) and one line, never
a KeyboardInterrupt traceback. Training answers them its own way (a save, then the same code);
this module imports nothing heavy, so that it can be installed before anything else."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

STOP_SIGNAL_NAMES = ("SIGTERM", "SIGHUP", "SIGINT")


class StoppedBySignal(BaseException):
    """A stop signal outside training. A BaseException, as KeyboardInterrupt is, so that no
    `except Exception` on the way mistakes it for a failure to report."""

    def __init__(self, number: int):
        super().__init__(signal.Signals(number).name)
        self.code = 128 + number


def _stop(number: int, _frame) -> None:
    raise StoppedBySignal(number)


def run_answering_signals(command: Callable[[], int]) -> int:
    """`command()`'s exit code; a stop signal during it ends it with 128 + the signal's number."""
    for name in STOP_SIGNAL_NAMES:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        return command()
    except StoppedBySignal as stop:
        print(f"vae-studio: stopped by {stop}", file=sys.stderr)
        return stop.code
