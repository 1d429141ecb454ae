"""``patrol`` as an operator meets it when something is wrong: one line on stderr naming what
to fix, an exit code, no traceback, never a secret or a password hash."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.cli import _one_line
from infra.launchers import LocalServices
from infra.settings import Settings
from patrol.accounts import hash_password
from patrol.models import County, User
from tests.conftest import add_county

PATROL = str(Path(sys.executable).with_name("patrol"))


def _bare_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """No database, store or secret configured: the embedded default would start."""
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "S3_", "PATROL_"))
    }
    return {**keep, "PATROL_DATA_DIR": str(data_dir), **extra}


@pytest.fixture
def env(services: LocalServices, settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The session's database and store, as an operator's environment names them."""
    store = services.object_store
    return _bare_env(
        tmp_path / "data",
        DATABASE_URL=services.database_url,
        S3_ENDPOINT_URL=store.endpoint_url,
        S3_BUCKET=store.bucket,
        S3_ACCESS_KEY_ID=store.access_key_id,
        S3_SECRET_ACCESS_KEY=store.secret_access_key,
        PATROL_SECRET_KEY=settings.auth.secret_key,
    )


def _patrol(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PATROL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _one_line_error(run: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The run failed with ``code`` and said so in one line containing every needle."""
    out = run.stdout + run.stderr
    assert run.returncode == code, out
    assert "Traceback" not in out
    assert "$argon2" not in out
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("patrol: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
async def county_code(
    engine: AsyncEngine,  # the schema is migrated
    session_factory: async_sessionmaker[AsyncSession],
) -> str:
    async with session_factory() as session:
        county = await add_county(session)
        await session.commit()
        return county.admin_code


def test_a_duplicate_user_is_one_line_without_the_hash(
    env: dict[str, str], county_code: str
) -> None:
    args = ("users", "create", f"dup{county_code}", "--role", "inspector", "--county", county_code)
    first = _patrol(env, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "$argon2" not in first.stdout
    again = _patrol(env, *args, "--password", "a-new-secret-pass")
    line = _one_line_error(again, 2, f"dup{county_code}", "already exists")
    assert "a-new-secret-pass" not in again.stdout + again.stderr
    assert line == f"patrol: user dup{county_code} already exists"


def test_an_unknown_county_and_user_are_one_line(env: dict[str, str]) -> None:
    run = _patrol(env, "users", "create", "x", "--role", "inspector", "--county", "000000")
    _one_line_error(run, 2, "000000")
    _one_line_error(_patrol(env, "users", "disable", "nobody-here"), 2, "nobody-here")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PATROL_PORT", "abc"),
        ("PATROL_S3_PORT", "99999"),
        ("S3_PUBLIC_URL", "192.168.1.10:8001"),
        ("DATABASE_POOL_SIZE", "many"),
    ],
)
def test_a_bad_setting_names_the_variable(tmp_path: Path, name: str, value: str) -> None:
    run = _patrol(_bare_env(tmp_path, **{name: value}), "serve")
    _one_line_error(run, 2, name, repr(value))
    assert not tmp_path.joinpath("postgres").exists()


def test_a_busy_api_port_is_refused_before_anything_starts(tmp_path: Path, busy_port: int) -> None:
    run = _patrol(_bare_env(tmp_path, PATROL_PORT=str(busy_port)), "serve")
    _one_line_error(run, 2, str(busy_port), "PATROL_PORT", "already in use")
    assert "Serving on" not in run.stdout
    assert list(tmp_path.iterdir()) == []  # no cluster, no store, no key


def test_a_busy_store_port_is_refused_before_anything_starts(
    tmp_path: Path, busy_port: int
) -> None:
    env = _bare_env(tmp_path, PATROL_S3_PORT=str(busy_port))
    run = _patrol(env, "db", "current")
    _one_line_error(run, 2, str(busy_port), "PATROL_S3_PORT", "already in use")
    assert not tmp_path.joinpath("postgres").exists()
    same = _patrol(_bare_env(tmp_path, PATROL_PORT="8123", PATROL_S3_PORT="8123"), "serve")
    _one_line_error(same, 2, "PATROL_PORT", "PATROL_S3_PORT")


def test_jobs_need_no_store(
    services: LocalServices,
    settings: Settings,
    engine: AsyncEngine,  # the session's database, migrated
    tmp_path: Path,
    busy_port: int,
) -> None:
    """``patrol jobs`` reads the database only: with the embedded store's port taken by
    another program it still answers, and starts no store of its own."""
    env = _bare_env(
        tmp_path / "data",
        DATABASE_URL=services.database_url,
        PATROL_SECRET_KEY=settings.auth.secret_key,
        PATROL_S3_PORT=str(busy_port),
    )
    run = _patrol(env, "jobs", "list", "--limit", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "job(s)" in run.stdout
    assert "embedded.s3_started" not in run.stdout + run.stderr
    assert not (tmp_path / "data" / "objects").exists()


def test_an_unreachable_database_is_one_line_without_its_password(
    env: dict[str, str],
) -> None:
    env["DATABASE_URL"] = "postgresql+asyncpg://patrol:hunter2-secret@127.0.0.1:9/patrol"
    env["DATABASE_CONNECT_TIMEOUT_S"] = "1"
    run = _patrol(env, "users", "disable", "someone")
    _one_line_error(run, 69, "database_unavailable")
    assert "hunter2-secret" not in run.stdout + run.stderr


async def test_a_database_error_is_told_without_statement_or_parameters(
    session_factory: async_sessionmaker[AsyncSession], county_code: str
) -> None:
    """A duplicate that slips past the check (two commands at once) still prints no hash."""
    async with session_factory() as session:
        county = await session.scalar(select(County.id).where(County.admin_code == county_code))
        assert county is not None
    hashed = hash_password("twice-over-password")
    for _ in range(2):
        async with session_factory() as session:
            session.add(User(county_id=county, username=f"race{county_code}", display_name="x",
                             role="inspector", password_hash=hashed))  # fmt: skip
            try:
                await session.commit()
            except sa_exc.IntegrityError as exc:
                assert "$argon2" in str(exc)  # what a traceback would have shown
                line = _one_line(exc)
                break
    else:
        pytest.fail("the second insert was accepted")
    assert "$argon2" not in line
    assert "\n" not in line
    assert line.startswith("UniqueViolationError: duplicate key")
