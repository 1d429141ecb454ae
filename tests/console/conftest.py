"""The console's tests: the real app served over a real port, and Debian's chromium."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from api.controllers.console import CONSOLE_DIST
from infra.settings import Settings

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str:
    """Debian's chromium; the browser tests fail (never skip) without it."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "chromium is not installed: the console's browser tests need Debian's chromium. "
        "Run `make install` as root (infra/bootstrap.sh installs it) or "
        "`sudo apt-get install -y chromium`.",
        pytrace=False,
    )


def require_build() -> Path:
    """The built console; the tests fail (never skip) without it."""
    if not (CONSOLE_DIST / "index.html").is_file():
        pytest.fail(
            f"the web console is not built ({CONSOLE_DIST} has no index.html): run `make install`",
            pytrace=False,
        )
    return CONSOLE_DIST


@pytest.fixture
def live_url(settings: Settings, engine: object) -> Iterator[str]:
    """The real app on 127.0.0.1:<free port> in a thread with its own event loop."""
    require_build()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
