"""A hung dependency (SIGSTOPped: its sockets accept, nothing answers) costs a request a few
seconds and a 503 with ``Retry-After``, never a long wait; after SIGCONT all is normal.

That the request is answered at all shows the timeouts at work (a frozen server never
answers); the problem names the timeout that fired. The worst latency seen is printed for the
performance table and measured by the benchmarks, not asserted here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests.conftest import CountyFixture
from tests.reliability.conftest import Stack, frozen, video_declaration

Client = AsyncTestClient[Litestar]
ME = "/api/v1/me"
#: What a frozen server's requests end in: one of the bounded waits fired.
DB_TIMEOUTS = {"no_answer", "statement_timeout", "pool_timeout", "unreachable"}
S3_TIMEOUTS = {"ReadTimeoutError", "ConnectTimeoutError", "ConnectionError"}


async def _timed(client: Client, method: str, url: str, **kw: Any) -> tuple[float, Any]:
    started = time.monotonic()
    resp = await client.request(method, url, **kw)
    return time.monotonic() - started, resp


def _assert_503(resp: Any, code: str, reasons: set[str] | None = None) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == code, resp.text
    assert int(resp.headers["retry-after"]) > 0
    if reasons is not None:
        assert resp.json()["details"]["reason"] in reasons, resp.text


async def _wait_ready(client: Client, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await client.get("/ready")).status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("not ready again")


async def test_frozen_database_answers_503_within_seconds(
    stack: Stack, stack_client: Client, stack_county: CountyFixture
) -> None:
    headers = stack_county.headers(Role.INSPECTOR)
    upload = f"/api/v1/evidence/uploads/{uuid7()}"
    # several pooled connections, as under load
    warm = await asyncio.gather(*(stack_client.get(ME, headers=headers) for _ in range(4)))
    assert all(r.status_code == 200 for r in warm)
    worst = 0.0
    with frozen(stack.database_pids()):
        # a pooled connection first, then new ones to a server that never answers
        for method, url, body in [("GET", ME, None)] * 2 + [("POST", upload, video_declaration())]:
            took, resp = await _timed(stack_client, method, url, json=body, headers=headers)
            _assert_503(resp, "database_unavailable", DB_TIMEOUTS)
            worst = max(worst, took)
    print(f"\nworst latency with the database frozen: {worst:.2f} s")
    await _wait_ready(stack_client)
    assert (await stack_client.get(ME, headers=headers)).status_code == 200


async def test_frozen_object_store_answers_503_within_seconds(
    stack: Stack, stack_client: Client, stack_county: CountyFixture
) -> None:
    headers = stack_county.headers(Role.INSPECTOR)
    url = f"/api/v1/evidence/uploads/{uuid7()}"
    body = video_declaration()
    worst = 0.0
    with frozen(stack.storage_pids()):
        took, resp = await _timed(stack_client, "POST", url, json=body, headers=headers)
        _assert_503(resp, "storage_unavailable", S3_TIMEOUTS)
        worst = max(worst, took)
        resp = await stack_client.get(ME, headers=headers)
        assert resp.status_code == 200  # what does not need S3 is not held up
    print(f"\nworst latency with the object store frozen: {worst:.2f} s")
    resp = await stack_client.post(url, json=body, headers=headers)  # the phone retries
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["requests"]) == 4
