"""The error contract: a user's mistake is an InputError (a ValueError) with one plain line.

A message that names a setting holds it as a ``Setting`` among its parts: the library says the
name its caller uses (``learning_rate``, ``num_iters``), and only the command line turns it into
a flag (``--lr``) with ``spelled(settings.flag)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Setting(NamedTuple):
    """A setting named in an error message: ``name`` is its key in settings.RULES; ``spelled`` the
    caller's own name for it when that differs (the classic API's num_iters for max_steps);
    ``value``, when given, a value to suggest: preprocess='standardize' (--preprocess standardize)."""

    name: str
    spelled: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        said = self.spelled or self.name
        return said if self.value is None else f"{said}={self.value!r}"

    def as_flag(self, flag: str) -> str:
        return flag if self.value is None else f"{flag} {self.value}"


class Worded(Exception):
    """An exception whose message is made of parts: strings and Settings. str() is the library's
    wording; ``spelled(spell)`` the same words with each Setting spelled as ``spell(name)``."""

    parts: tuple

    def __init__(self, *parts: object) -> None:
        self.parts = parts
        super().__init__("".join(map(str, parts)))

    def spelled(self, spell: Callable[[str], str]) -> str:
        return "".join(
            p.as_flag(spell(p.name)) if isinstance(p, Setting) else str(p) for p in self.parts
        )


class InputError(Worded, ValueError):
    """Bad input from the user: the message names the problem and how to fix it.

    The command line prints it as one line on stderr and exits with code 2.
    """


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (a string where a number belongs, a float where an integer
    does): catchable as TypeError and, like every InputError, as ValueError."""


class DivergedError(Worded, RuntimeError):
    """Training produced a non-finite loss; the message contains the word 'diverged'."""

    learning_rate: float | None = None  # the rate that diverged, for the retry advice
