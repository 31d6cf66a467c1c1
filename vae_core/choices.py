"""Choosing by name: one lookup, one message, for every registry and every fixed set of choices."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from vae_core.errors import VaeStudioError

_T = TypeVar("_T")


def check_choice(kind: str, name: str, choices: Collection[str]) -> str:
    """`name` when it is one of `choices`, else one clear line naming them."""
    if name not in choices:
        raise VaeStudioError(f"unknown {kind} '{name}' (choose from {', '.join(choices)})")
    return name


def lookup(registry: Mapping[str, _T], kind: str, name: str) -> _T:
    """The entry `name` of a registry, or one clear line naming the choices."""
    return registry[check_choice(kind, name, registry)]
