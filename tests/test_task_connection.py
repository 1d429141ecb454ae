"""procrastinate's connection comes from DATABASE_URL as separate libpq parameters."""

from __future__ import annotations

from infra.settings import DatabaseSettings
from infra.tasks import _connection_parameters


def test_the_url_becomes_libpq_parameters() -> None:
    url = (
        "postgresql+asyncpg://patrol:s3cret%40x@db.example:6543/patrol"
        "?ssl=require&prepared_statement_cache_size=0"
    )
    params = _connection_parameters(DatabaseSettings(url=url, connect_timeout_s=2.4))
    assert params == {
        "host": "db.example",
        "port": 6543,
        "user": "patrol",
        "password": "s3cret@x",  # decoded, passed on its own: never part of a logged string
        "dbname": "patrol",
        "application_name": "patrol-tasks",
        "connect_timeout": 2,
        "sslmode": "require",  # asyncpg's name for it; asyncpg-only options are left out
    }
