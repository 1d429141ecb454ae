"""The console's tests: the real app served over a real port, and Debian's chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, Request, Route, async_playwright

from api.app import create_app
from api.controllers.console import CONSOLE_DIST
from infra.settings import Settings
from tests.conftest import TEST_PASSWORD

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
    del engine
    yield from serve(settings)


def serve(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Iterator[str]:
    """The app of ``settings`` on 127.0.0.1:<free port> in a thread with its own event loop,
    until the generator is closed (a fixture's body: ``yield from serve(settings)``); with
    ``clock``, the app's "now" is that clock's (``app.state.clock``)."""
    require_build()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    if clock is not None:
        app.state.clock = clock
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
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


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=executable,
            headless=True,
            # software WebGL: the machines that run the tests have no GPU
            args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"],
        )
        try:
            yield launched
        finally:
            await launched.close()


def watch(page: Page) -> list[str]:
    """Errors the page logs (a refused script or style, a failed request, an exception)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def log_in(
    browser: Browser,
    base: str,
    username: str,
    *,
    routes: dict[str, Callable[[Route], Awaitable[None]]] | None = None,
) -> tuple[Page, list[str]]:
    """A new browser context logged in as ``username``; ``routes`` (glob -> handler) answer
    those requests from the start, the landing page's included."""
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = watch(page)
    for pattern, handler in (routes or {}).items():
        await page.route(pattern, handler)
    await page.goto(f"{base}/")  # sent on to /console/
    assert page.url.startswith(f"{base}/console/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_selector("nav a[aria-current=page]")  # the shell, whatever the role
    return page, errors


RENDERED = """(layers) => {
  const map = window.patrolMap;
  if (!map || !map.isStyleLoaded() || layers.some((l) => !map.getLayer(l))) return null;
  return map.queryRenderedFeatures({ layers }).map((f) => f.properties);
}"""


async def rendered(page: Page, layers: list[str]) -> list[dict[str, Any]]:
    # the features are read in the same evaluation that finds them: between two evaluations
    # the map may be loading tiles again (``isStyleLoaded`` false), which reads as null
    handle = await page.wait_for_function(
        f"(layers) => {{ const f = ({RENDERED})(layers); return f && f.length > 0 ? f : null; }}",
        arg=layers,
        timeout=TIMEOUT_MS,
    )
    found: list[dict[str, Any]] = await handle.json_value()
    return found


async def narrow_then_widen(page: Page, pattern: str, narrow: Any, widen: Any, rows: str,
                             count: int) -> None:  # fmt: skip
    """Narrow a list (its answer held on the way) and widen it at once: once the wide list
    shows, the narrow answer is let through; the wide list must stay (an older answer arriving
    late is dropped, not drawn over the newer one)."""
    release = asyncio.Event()
    held: list[Request] = []

    async def hold(route: Route, request: Request) -> None:
        held.append(request)
        await release.wait()
        await route.continue_()

    await page.route(pattern, hold)
    await narrow()
    await widen()
    await page.wait_for_function(
        f"() => document.querySelectorAll('{rows}').length === {count}", timeout=TIMEOUT_MS
    )
    assert len(held) == 1
    async with page.expect_event("requestfinished", lambda r: r is held[0]):
        release.set()
    # the late answer is in the page: give its handler a turn, then look
    await page.evaluate("() => new Promise((done) => setTimeout(done, 500))")
    assert await page.locator(rows).count() == count
