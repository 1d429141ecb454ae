"""A mutation run stopped by hand stops its mutmut processes and everything they forked.

Each module's mutmut runs in a process group of its own (its fork server and test runs with
it), so ^C or SIGTERM to ``make mutate`` alone would leave them testing and holding their
databases. Here a stand-in for mutmut forks a "fork server" that ignores SIGINT, as a test
run busy in C code would, and the run is stopped.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tests import mutation

STAND_IN = """
import os, signal, sys, time
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    time.sleep(600)
    os._exit(0)
print(os.getpid(), pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has stopped


def test_a_stopped_run_leaves_no_mutmut_or_fork_server_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation, "MUTMUT_MAIN", STAND_IN)
    monkeypatch.setattr(mutation, "_STOP", threading.Event())
    log = tmp_path / "mutmut.log"
    codes: list[int] = []
    module = threading.Thread(
        target=lambda: codes.append(mutation.mutmut(tmp_path, ["run"], dict(os.environ), log)),
        daemon=True,  # a stop that fails must fail the test, not hold the session
    )
    module.start()
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text(encoding="utf-8").strip()):
        assert time.monotonic() < deadline, "the stand-in never started"
        time.sleep(0.05)
    parent, server = (int(p) for p in log.read_text(encoding="utf-8").split()[-2:])
    assert _alive(parent) and _alive(server)

    try:
        mutation.stop_running(grace_s=2.0)
        module.join(timeout=30)
        assert not module.is_alive(), "mutmut's output stayed open: a process outlived the stop"
    finally:
        for pid in (parent, server):  # whatever happened, nothing is left sleeping
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert codes and codes[0] != 0
    assert not _alive(parent)
    deadline = time.monotonic() + 10
    while _alive(server):  # SIGKILL is delivered at once; reaping may lag
        assert time.monotonic() < deadline, "the fork server outlived the stop"
        time.sleep(0.05)
    # and nothing starts after a stop (the stand-in would sleep ten minutes)
    assert mutation.mutmut(tmp_path, ["run"], dict(os.environ), log) == mutation.STOPPED
