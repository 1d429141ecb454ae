"""The one log stream: structlog and stdlib loggers as JSON lines with the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from infra.logging import configure_logging, quiet_events


@pytest.fixture
def stream(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("info")
    try:
        yield capsys
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_stdlib_and_structlog_lines_share_the_stream_and_the_request_id(
    stream: pytest.CaptureFixture[str],
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        structlog.get_logger("patrol.tracks").info("patrol.started", patrol_id="p")
        logging.getLogger("uvicorn.error").warning("Something %s", "odd")
        logging.getLogger("sqlalchemy.pool").error("pool failed")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1, extra={
        "color_message": "Started server process [\x1b[36m%d\x1b[0m]"})  # fmt: skip
    records = _records(stream)
    first, second, third, outside = records
    assert first["event"] == "patrol.started"
    assert first["logger"] == "patrol.tracks"
    assert second == {**second, "event": "Something odd", "level": "warning", "request_id": "r-1"}
    assert third["logger"] == "sqlalchemy.pool"
    assert third["request_id"] == "r-1"
    assert "request_id" not in outside
    assert "color_message" not in outside
    assert outside["event"] == "Started server process [1]"


def test_a_uvicorn_config_run_before_does_not_silence_uvicorn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """uvicorn.Config(log_level="warning") leaves ``uvicorn.error`` at WARNING; configuring the
    stream afterwards brings its info lines back."""
    import uvicorn  # noqa: PLC0415

    uvicorn.Config(lambda *_: None, log_level="warning")
    assert logging.getLogger("uvicorn.error").level == logging.WARNING
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("info")
    try:
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
        [line] = _records(capsys)
        assert line["event"] == "Started server process [7]"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def test_alembic_context_chatter_is_debug_only(stream: pytest.CaptureFixture[str]) -> None:
    alembic = logging.getLogger("alembic.runtime.migration")
    alembic.info("Context impl PostgresqlImpl.")
    alembic.info("Will assume transactional DDL.")
    alembic.info("Running upgrade %s -> %s, %s", "a", "b", "message")
    (line,) = _records(stream)
    assert line["event"] == "Running upgrade a -> b, message"


def test_pdf_layout_progress_is_debug_only(stream: pytest.CaptureFixture[str]) -> None:
    progress = logging.getLogger("weasyprint.progress")
    progress.info("Step 1 - Fetching and parsing HTML - %s", "<string>")
    progress.info("Step 7 - Adding PDF metadata")
    logging.getLogger("weasyprint").warning("Ignored `display: grid` at 3:1, unknown property.")
    assert [line["event"][:7] for line in _records(stream)] == ["Ignored"]


def test_queue_routine_lines_are_debug_only(stream: pytest.CaptureFixture[str]) -> None:
    """Each minute's housekeeping and each periodic deferral stay out of the info stream; a
    job's end (with its duration and result) and failures stay in it."""
    periodic = logging.getLogger("procrastinate.periodic")
    worker = logging.getLogger("procrastinate.worker")
    periodic.info("Periodic job queue:retry_stalled[15](timestamp=1) deferred for timestamp 1")
    periodic.info("Periodic job patrol:chores[14](timestamp=1) deferred for timestamp 1")
    worker.info("Job queue:retry_stalled[15](timestamp=1) ended with status: Success")
    worker.info("Job patrol:chores[14](timestamp=1) ended with status: Success, lasted 0.1 s")
    worker.warning("Job evidence:derivatives[3](evidence_id='x') ended with status: Failure")
    assert [line["event"][:20] for line in _records(stream)] == [
        "Job patrol:chores[14",
        "Job evidence:derivat",
    ]


def test_quiet_events_counts_below_warning(stream: pytest.CaptureFixture[str]) -> None:
    log = structlog.get_logger("patrol.tracks")
    with quiet_events() as counts:
        log.info("patrol.started")
        log.info("patrol.started")
        log.debug("patrol.detail")
        log.warning("patrol.site_rebound")
    log.info("after")
    assert counts == {"patrol.started": 2}  # debug is filtered before it is counted
    assert [r["event"] for r in _records(stream)] == ["patrol.site_rebound", "after"]
