"""Test stand-ins for the delivery transports: a loopback SMTP server and a local SendGrid API.

Registered as pytest plugins in ``tests/conftest.py``; see ``smtp.py`` and ``sendgrid.py``.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Guarded(Generic[T]):
    """An attribute read and written under its owner's ``_lock``.

    Tests change fault settings from their own thread while server threads read them; the owner
    takes the same (reentrant) lock for read-modify-write steps such as counting down a fault.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_guarded_{name}"

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        if instance is None:
            return self  # type: ignore[return-value]
        lock: threading.RLock = instance._lock
        with lock:
            return getattr(instance, self._slot)

    def __set__(self, instance: Any, value: T) -> None:
        with instance._lock:
            setattr(instance, self._slot, value)
