"""Health, readiness, problem details, request ids, OpenAPI."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from infra.scope import Role
from infra.settings import Settings

Client = AsyncTestClient[Litestar]


async def test_health_and_ready(client: Client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["ok"] is True
    assert ready.json()["checks"]["objectStore"]["ok"] is True


async def test_ready_names_the_part_that_failed(settings: Settings) -> None:
    broken = dataclasses.replace(
        settings,
        object_store=dataclasses.replace(settings.object_store, endpoint_url="http://127.0.0.1:9"),
    )
    async with AsyncTestClient(app=create_app(broken)) as client:
        resp = await client.get("/ready")
    assert resp.status_code == 503
    body = resp.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["objectStore"]["ok"] is False


async def test_request_id_is_echoed_or_made(client: Client) -> None:
    resp = await client.get("/health", headers={"X-Request-ID": "phone-42.abc"})
    assert resp.headers["x-request-id"] == "phone-42.abc"
    made = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made.headers["x-request-id"]) == 32


async def test_responses_carry_server_timing(client: Client) -> None:
    for path in ("/health", "/api/v1/no-such-route"):
        resp = await client.get(path)
        # the app's own time in milliseconds with one decimal (its size is the benchmarks')
        assert re.fullmatch(r"app;dur=\d+\.\d", resp.headers["server-timing"])


async def test_errors_are_problem_details(client: Client, make_county: Any) -> None:
    county = await make_county()
    admin = county.headers(Role.ADMIN)
    cases = [
        (await client.get("/api/v1/nope", headers=admin), 404, "not_found"),
        (await client.put("/health"), 405, "method_not_allowed"),
        (
            await client.post(
                "/api/v1/auth/token",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            400,
            None,
        ),
        (
            await client.post("/api/v1/auth/token", json={"username": 5, "password": "x"}),
            400,
            "validation_error",
        ),
        (
            await client.post(
                "/api/v1/admin/users",
                headers=admin,
                json={
                    "username": "abc",
                    "displayName": "A",
                    "role": "emperor",
                    "password": "long-enough-1",
                },
            ),
            400,
            "validation_error",
        ),
    ]
    for resp, status, code in cases:
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == status and body["detail"] and body["code"]
        assert body["requestId"] == resp.headers["x-request-id"]
        if code:
            assert body["code"] == code


async def test_oversized_body_is_refused(client: Client, make_county: Any) -> None:
    county = await make_county()
    headers = {**county.headers(Role.ADMIN), "content-type": "application/json"}
    resp = await client.post(
        "/api/v1/admin/users",
        headers=headers,
        content=b'{"username": "' + b"a" * (9 * 1024 * 1024) + b'"}',
    )
    assert resp.status_code == 413
    assert resp.json()["code"] == "body_too_large"


async def test_openapi_lists_operation_ids(client: Client) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {
        "CreateToken",
        "RefreshToken",
        "GetMe",
        "RegisterDevice",
        "RevokeDevice",
        "ListUsers",
        "CreateUser",
        "GetHealth",
        "GetReadiness",
    } <= ops
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "html" in ui.headers["content-type"]


async def test_large_answers_are_gzipped(client: Client) -> None:
    resp = await client.get("/schema/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert resp.headers.get("content-encoding") == "gzip"
