"""The one family of errors meant for a user.

Library code raises a ``UserError`` (or a subclass) with a message already phrased as one
line for a person. The shells show it once: the CLI prints ``Error: MESSAGE`` on stderr and
exits with ``exit_code``; the web answers with ``http_status`` and ``{"error": MESSAGE}``
(plus ``"field"`` naming the parameter, or ``"position"`` when the error points into a query).
Anything else that escapes is a bug, not a message.

``models/`` stands alone and keeps its own exceptions (``ArtifactError``, ``DataError``);
``model_errors`` is the one place that turns them into a ``ModelError``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class UserError(Exception):
    """A problem the user can fix, phrased as one line; ``exit_code`` for the CLI, ``http_status`` for the web."""

    exit_code: int = 2
    http_status: int = 400
    position: int | None = None  # 1-based character in the user's query, when there is one
    field: str | None = None     # the parameter or option the problem is in, when there is one

    def __init__(self, message: str = "", exit_code: int | None = None, http_status: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.message = message  # for the JSON ``error`` field; a subclass may keep a position out of it
        if field is not None:
            self.field = field
        if exit_code is not None:
            self.exit_code = exit_code
        if http_status is not None:
            self.http_status = http_status

    def __str__(self) -> str:  # the message as given, also where a base (KeyError) would quote it
        return str(self.args[0]) if self.args else ""

    def details(self) -> str:
        """What the CLI prints after ``Error: `` (a subclass may add lines, such as a pointer)."""
        return str(self)


class NotFound(UserError, KeyError):
    """The thing asked for (a post, a product, a saved search) does not exist (a ``KeyError``, as
    ``LookupError`` and ``KeyError`` were what callers caught before)."""

    exit_code = 1
    http_status = 404


class BadInput(UserError, ValueError):
    """A value the user gave is not valid (the message says which and why)."""


class Conflict(BadInput):
    """The change clashes with what exists (a name taken, the last admin): HTTP 409; the CLI exits 2 as for bad input."""

    http_status = 409


class UnwritablePath(UserError):
    """A configured path (``store.path``, ``digest.output_dir``, ``schedule.log_file``) cannot be written."""

    http_status = 500


class ModelError(UserError):
    """The sentiment model cannot be used or trained (a missing or mismatched artifact, bad training data)."""

    http_status = 500


# SQLite stores integers in 64 bits: a bigger number given as an id, offset, limit or bound is refused
# where it enters, not left to overflow in a statement.
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2 ** 63), 2 ** 63 - 1


@contextmanager
def model_errors() -> Iterator[None]:
    """Turn the errors of ``models/`` into a ``ModelError`` (usable as a ``with`` block or a decorator)."""
    from models.datasets import DataError
    from models.encoder_training import TrainingUnavailable
    from models.trained import ArtifactError

    try:
        yield
    except (ArtifactError, DataError, TrainingUnavailable) as exc:
        raise ModelError(str(exc)) from exc
