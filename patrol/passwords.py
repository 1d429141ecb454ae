"""Password hashing off the event loop, in a small pool of low-priority threads.

One argon2 check costs ~0.13 s of wall time and ~0.2 s of CPU (it runs four lanes). Run on
the event loop, ten failed logins a second stalled every other request of the process. Here
the checks run in ``workers`` threads whose OS priority is lowered (``nice`` 19 on Linux, per
thread; argon2's own lane threads inherit it), so the event loop and PostgreSQL are served
first and a flood of logins only slows the logins. At most ``queue`` logins wait for a
thread (:meth:`PasswordPool.admit`); one more is refused at once
(:class:`PasswordPoolBusyError`) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infra import error_codes as codes
from infra.errors import UnavailableError

__all__ = ["PasswordPool", "PasswordPoolBusyError", "password_pool"]

_T = TypeVar("_T")
_NICE = 19


class PasswordPoolBusyError(UnavailableError):
    default_code = codes.LOGIN_BUSY


def _lower_priority() -> None:
    # Linux keeps a nice value per thread; elsewhere this may change nothing.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


class PasswordPool:
    def __init__(self, hasher: PasswordHasher, *, workers: int, queue: int) -> None:
        self._hasher = hasher
        self._limit = workers + queue
        self._running = 0
        self._lock = threading.Lock()  # one pool serves every event loop of the process
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="password", initializer=_lower_priority
        )

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """A place among the checks running or waiting, or :class:`PasswordPoolBusyError` at
        once; a login takes its place before anything about the attempt is recorded."""
        with self._lock:
            if self._running >= self._limit:
                raise PasswordPoolBusyError(
                    "too many logins at once; try again shortly", retry_after_s=1
                )
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches; call it inside :meth:`admit`."""

        def check() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._run(check)

    async def hash(self, password: str) -> str:
        """Hashing (an admin setting a password, a rehash after a login) waits its turn."""
        return await self._run(lambda: self._hasher.hash(password))

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


_pools: dict[tuple[int, int, int], PasswordPool] = {}
_pools_lock = threading.Lock()


def password_pool(hasher: PasswordHasher, *, workers: int, queue: int) -> PasswordPool:
    """The process's pool for these limits (threads start on first use)."""
    key = (id(hasher), workers, queue)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = PasswordPool(hasher, workers=workers, queue=queue)
        return pool
