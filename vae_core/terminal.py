"""What the command line shows on a terminal while it works: a training run's progress bar and a
download's. Both are silent when stderr is not a terminal (a log file, a scheduler's capture)."""

from __future__ import annotations

import sys

from vae_core.training.trainer import TrainingSnapshot


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is not one."""

    def __init__(self, stream=sys.stderr, enabled: bool = True):
        self.stream = stream
        self.enabled = enabled and stream.isatty()

    def update(self, snapshot: TrainingSnapshot) -> None:
        if not self.enabled:
            return
        done = snapshot.step / max(1, snapshot.total_steps)
        filled = int(30 * done)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:4.0%} step {snapshot.step:,}/{snapshot.total_steps:,}"
            f" epoch {snapshot.epoch + 1} loss {snapshot.loss:8.2f} kl {snapshot.kl:6.2f}"
            f" {snapshot.images_per_s:,.0f} img/s "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


class DownloadBar:
    """The progress of a data set's download on a terminal; silent when stderr is not one."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent == self.shown:
            return
        self.shown = percent
        end = "\n" if done >= total else ""
        self.stream.write(
            f"\rdownloading [{'#' * (percent * 30 // 100):.<30}] {percent:3d}% {done / 1e6:.1f}/{total / 1e6:.1f} MB{end}"
        )
        self.stream.flush()
