"""The OpenAPI document is the truth: schemathesis (every check) against a live server.

The real app is served by uvicorn on a free port, backed by the test PostGIS cluster and the
rclone S3 server, and ``st run`` (the command the README gives for a live instance) fuzzes
every operation with a captain's and an inspector's token.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.openapi_errors import OPERATION_ERRORS
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture

# Operations a fuzzer must not run with the test user's token: they change passwords.
_EXCLUDED = ("ResetPassword",)
_ROOT = Path(__file__).resolve().parents[2]
_MAX_EXAMPLES = int(os.environ.get("PATROL_SCHEMATHESIS_EXAMPLES", "10"))


@pytest.fixture
def live_url(settings: Settings, engine: object) -> Iterator[str]:
    """The real app on 127.0.0.1:<free port> in a thread with its own event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # a signing key, as every real deployment has one (ExportReferralPackage answers 503 without)
    live = replace(settings, evidence=replace(settings.evidence, package_signing_key="k" * 32))
    server = uvicorn.Server(
        uvicorn.Config(create_app(live), log_level="warning", access_log=False, lifespan="on")
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


def _schemathesis(url: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "--config-file", str(_ROOT / "schemathesis.toml"),
        "run", f"{url}/schema/openapi.json",
        "--max-examples", str(_MAX_EXAMPLES),
        "--seed", "11",
        "--workers", "1",  # its threads hit "AST constructor recursion depth" on 3.11
        "--header", f"Authorization: Bearer {token}",
        "--no-color",
        "--generation-database", "none",  # every run starts from the seed alone
        "--report", "ndjson", "--report-dir", str(report),
        *(arg for op in _EXCLUDED for arg in ("--exclude-operation-id", op)),
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=900, check=False, cwd=report.parent
    )


@pytest.mark.slow
async def test_schemathesis_finds_nothing(
    live_url: str,
    make_county: Callable[..., Awaitable[CountyFixture]],
    tmp_path: Path,
) -> None:
    county = await make_county()
    failed = []
    for role in (Role.CAPTAIN, Role.INSPECTOR):
        token = county.headers(role)["Authorization"].removeprefix("Bearer ")
        run = await asyncio.to_thread(_schemathesis, live_url, token, tmp_path / role.value)
        if run.returncode != 0:
            failed.append(f"as {role.value}:\n{run.stdout[-20000:]}\n{run.stderr[-3000:]}")
    assert not failed, "\n".join(failed)


# -- the document itself ---------------------------------------------------------------------
_PACKAGES = ("api", "infra", "patrol", "geofence", "evidence", "sync")


def _operations(app: Litestar) -> dict[str, tuple[str, dict[str, Any]]]:
    doc = app.openapi_schema.to_schema()
    return {
        op["operationId"]: (path, op)
        for path, item in doc["paths"].items()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }


def test_every_operation_declares_its_errors_as_problem_details(app: Litestar) -> None:
    operations = _operations(app)
    assert set(OPERATION_ERRORS) == set(operations)
    for op_id, (path, op) in operations.items():
        errors = {s: r for s, r in op["responses"].items() if s >= "400"}
        assert "400" in errors and "503" in errors, op_id
        for status, response in errors.items():
            if (op_id, status) == ("GetReadiness", "503"):
                continue  # not ready: the readiness report itself
            media = response["content"]
            assert list(media) == ["application/problem+json"], (op_id, status)
            assert media["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
            assert response["x-problem-codes"], (op_id, status)
        public = op.get("security") == []
        assert public == (op_id in {"GetHealth", "GetReadiness", "CreateToken", "RefreshToken"})
        assert ("401" in errors) == (not public or op_id in {"CreateToken", "RefreshToken"})
        assert ("404" in errors) >= ("{" in path), op_id


def test_every_listed_code_is_one_the_code_can_raise() -> None:
    """No typo in the catalogue: each code appears as a string literal in the sources."""
    root = _ROOT
    text = "".join(
        path.read_text()
        for pkg in _PACKAGES
        for path in (root / pkg).rglob("*.py")
        if path.name != "openapi_errors.py"  # the catalogue itself
    )
    listed = {code for errors in OPERATION_ERRORS.values() for codes in errors.values()
              for code in codes}  # fmt: skip
    missing = sorted(code for code in listed if f'"{code}"' not in text)
    assert not missing


def test_request_constraints_are_stated_on_optional_members(app: Litestar) -> None:
    schemas = app.openapi_schema.to_schema()["components"]["schemas"]
    radius = schemas["TargetCreate"]["properties"]["visitRadiusM"]["oneOf"][0]
    assert radius == {"type": "number", "exclusiveMinimum": 0.0, "maximum": 10000.0}


async def test_options_lists_every_method_of_the_path(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.options("/api/v1/admin/users")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, OPTIONS, POST"
