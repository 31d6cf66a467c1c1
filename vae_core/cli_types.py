"""The types that check each value of the command line as it is read, and a parser that says
what is wrong in one line."""

from __future__ import annotations

import argparse
from pathlib import Path

from vae_core.errors import one_line
from vae_core.limits import MAX_INT64, MAX_MINUTES, MAX_THREADS


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def folder_name(text: str) -> Path:
    # Path("") is Path("."): an empty name would quietly mean the current folder.
    if not text.strip():
        raise argparse.ArgumentTypeError(f"needs a folder name, got {text!r}")
    return Path(text)


def hidden_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 400 or 400,200, got '{text}'"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive integers, got '{text}'")
    return sizes


def adam_betas(text: str) -> tuple[float, float]:
    try:
        betas = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two numbers like 0.9,0.999, got '{text}'"
        ) from None
    if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
        raise argparse.ArgumentTypeError(
            f"expected two numbers in [0, 1) like 0.9,0.999, got '{text}'"
        )
    return betas


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    if value > MAX_INT64:  # what torch and numpy take
        raise argparse.ArgumentTypeError(f"expected a number below 2**63, got {value}")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def threads(text: str) -> int:
    value = positive_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_THREADS} threads, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got '{text}'")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return value


def minutes(text: str) -> float:
    value = positive_float(text)
    if value > MAX_MINUTES:  # past a year, and past what a timer takes
        raise argparse.ArgumentTypeError(f"expected at most {MAX_MINUTES:,} minutes, got {text}")
    return value
