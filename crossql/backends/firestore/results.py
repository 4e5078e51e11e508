"""What the Firestore runtime reads back and raises, shared by the store and the write
plans (a module of its own, so neither imports the other): driver values as plain
Python, driver errors as ``BackendError``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crossql.errors import BackendError


def driver_error(err: BaseException) -> BackendError:
    """A driver error as ``BackendError`` (one of ours as it is)."""
    if isinstance(err, BackendError):  # already ours: wrapping it again doubles the prefix
        return err
    return BackendError("firestore", f"{type(err).__name__}: {err}")


def is_driver_error(err: BaseException) -> bool:
    """Whether ``err`` comes from the Google client or gRPC."""
    return type(err).__module__.startswith(("google.", "grpc"))


SCALARS = frozenset({bool, int, float, str, type(None)})
"""Types ``plain`` returns as they are (exact types: a subclass goes through it)."""


def plain(value: Any) -> Any:
    """Firestore values → CrossQL's (docs/backends/firestore.md, "Value kinds"): a
    timestamp is a plain aware UTC ``datetime`` (Firestore keeps microseconds, so the
    client's ``DatetimeWithNanoseconds`` converts without loss; one holding finer digits,
    which no server read gives, is left as it is); bytes,
    references (``DocumentReference``) and geopoints (``GeoPoint``) stay the client's
    objects, so a row written back stores them again."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, datetime) and type(value) is not datetime and \
            getattr(value, "nanosecond", 0) % 1000 == 0:
        return datetime(value.year, value.month, value.day, value.hour, value.minute,
                        value.second, value.microsecond, tzinfo=UTC)
    return value
