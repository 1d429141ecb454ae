"""The read-back threads: their own pool, below the event loop's CPU priority, made again in
a forked child, carrying the request's log context."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import structlog

from evidence import service


def _where() -> tuple[str, int]:
    me = threading.get_native_id()
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, me)


def test_read_back_threads_run_below_the_priority_of_the_thread_that_started_them() -> None:
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    pool = service._readback_pool()
    assert pool is service._readback_pool()  # one pool per process
    name, nice = pool.submit(_where).result(timeout=10)
    assert name.startswith("evidence-readback")
    assert nice == min(19, here + service.READBACK_NICE) > here or here == 19
    assert here == os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # caller as it was


_FORKED_CHILD = """
import os, threading
from evidence import service

def where():
    return threading.current_thread().name

parent = service._readback_pool()
parent.submit(where).result(timeout=10)  # the parent's threads exist
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the child: the parent's threads are not here; a pool of its own answers
    try:
        pool = service._readback_pool()
        ok = pool is not parent and pool.submit(where).result(timeout=10).startswith(
            "evidence-readback"
        )
        os.write(write, b"1" if ok else b"0")
    finally:
        os._exit(0)
os.close(write)
answer = os.read(read, 1)
os.waitpid(pid, 0)
assert service._readback_pool() is parent
print(answer.decode())
"""


def test_a_forked_child_makes_its_own_read_back_threads() -> None:
    """Forked from a fresh interpreter with its pool running: forking this test process,
    whose other threads have run FFmpeg, once hung the child inside ``fork`` (a video
    reformatter freed with another thread's state, waiting for FFmpeg's slice threads)."""
    done = subprocess.run(
        [sys.executable, "-c", _FORKED_CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


async def test_the_read_back_runs_with_the_callers_log_context() -> None:
    def inside(n: int, *, times: int) -> tuple[object, str, int]:
        bound = structlog.contextvars.get_contextvars().get("request_id")
        return bound, threading.current_thread().name, n * times

    structlog.contextvars.bind_contextvars(request_id="r-42")
    try:
        bound, name, product = await service._in_readback(inside, 6, times=7)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    assert (bound, product) == ("r-42", 42) and name.startswith("evidence-readback")
