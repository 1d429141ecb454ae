"""Migration 0004_evidence creates exactly what evidence.models declares."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.migrate import Migrator

_TABLES = {
    "evidence",
    "evidence_uploads",
    "evidence_derivatives",
    "evidence_custody",
}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in _TABLES:
            return part
        if name in _TABLES:
            return str(name)
    return None


async def test_models_and_migration_agree(engine: AsyncEngine) -> None:
    diffs = await Migrator(engine, ["patrol.models", "evidence.models"]).diff()
    ours = [d for d in diffs if _table_of(d) in _TABLES]
    assert ours == []
