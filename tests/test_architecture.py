"""The import direction (README, Architecture), and models that agree with migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from api.models import MODEL_MODULES
from infra.migrate import Migrator

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    migrator = Migrator(engine, MODEL_MODULES)
    assert await migrator.is_current()
    assert await migrator.diff() == []


def test_domain_packages_never_import_litestar() -> None:
    for package in ("infra", "geofence", "patrol", "evidence", "sync"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            assert "import litestar" not in text and "from litestar" not in text, path
