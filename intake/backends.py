"""Backends chosen by a `kind` setting (mailbox, outbound): a registry of "module:Class" paths.

Each backend is a class in its own module that checks its own settings (`validate`) and builds
itself from them (`from_config`). A module is imported only when its kind is used, so reading the
configuration stays light for every command.
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

T = TypeVar("T")


class Backends(Generic[T]):
    """`kind` -> the backend class registered under it, like Django's dotted backend paths."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = dict(paths)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The registered kinds, in the order error messages list them."""
        return tuple(self._paths)

    def __getitem__(self, kind: str) -> type[T]:
        """The backend class of `kind`, imported on first use; KeyError for an unknown kind."""
        module, _, name = self._paths[kind].partition(":")
        return getattr(importlib.import_module(module), name)
