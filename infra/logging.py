"""One log stream: JSON lines on stdout for structlog events and every stdlib logger.

structlog events and the lines of uvicorn, alembic and any other library that logs through the
standard library go through the same processors and the same handler, so each line is one JSON
object with ``event``, ``level``, ``logger`` and ``timestamp`` (and ``request_id`` while a
request is handled: it is bound in a context variable by the request middleware).

Nothing secret is logged: demo passwords are written to a mode-600 file and shown on the
terminal only (``api.cli``), never as log events.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator, MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "quiet_events", "seconds_since_last_line"]

# Library lines that say nothing an operator needs at info level: alembic writes these two every
# time a migration context is made, which the readiness check does on each call.
_CHATTER: dict[str, tuple[str, ...]] = {
    "alembic.runtime.migration": ("Context impl ", "Will assume "),
    # procrastinate: task registration (every app build), each periodic deferral and the start
    # of each job (its end is logged with the duration), and the minutely housekeeping job's end
    "procrastinate.blueprints": ("Adding tasks from blueprint",),
    "procrastinate.periodic": ("Registering task ", "Periodic job "),
    "procrastinate.worker.worker": ("Starting job ",),
    "procrastinate.worker": ("Job queue:retry_stalled[",),
    # WeasyPrint: seven progress lines for every PDF laid out (documents, reports, case files)
    "weasyprint.progress": ("Step ",),
}

_quiet: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "patrol_quiet_events", default=None
)
_last_line = [time.monotonic()]


def seconds_since_last_line() -> float:
    """How long the stream has been silent (the serve banner waits for a quiet moment)."""
    return time.monotonic() - _last_line[0]


@contextlib.contextmanager
def quiet_events() -> Iterator[Counter[str]]:
    """Within the block (this task and what it starts), structlog events below warning are
    counted by name instead of written; the caller logs a summary of the counter."""
    counts: Counter[str] = Counter()
    token = _quiet.set(counts)
    try:
        yield counts
    finally:
        _quiet.reset(token)


def _count_quiet(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    counts = _quiet.get()
    if counts is not None and method in {"debug", "info"}:
        counts[str(event_dict.get("event"))] += 1
        raise structlog.DropEvent
    return event_dict


def _drop_terminal_copies(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    event_dict.pop("color_message", None)  # uvicorn's copy of the message with ANSI colours
    return event_dict


class _Demote(logging.Filter):
    """Turns a library's routine messages into debug lines (dropped unless debug is on)."""

    def __init__(self, logger: logging.Logger, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.logger = logger
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.logger.isEnabledFor(logging.DEBUG)
        return True


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stdout`` is at the time (a test runner's capture, a daemon's
    redirect), one flushed line per record."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        _last_line[0] = time.monotonic()


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            _count_quiet,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_terminal_copies],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)
    # uvicorn (run with log_config=None) and alembic keep their own handlers off: propagate,
    # at the stream's level (a uvicorn.Config with a log_level, or a dictConfig, may have left
    # them a level of their own or disabled them)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "alembic"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
        named.setLevel(logging.NOTSET)
        named.disabled = False
    for name, prefixes in _CHATTER.items():
        named = logging.getLogger(name)
        named.filters = [f for f in named.filters if not isinstance(f, _Demote)]
        named.addFilter(_Demote(named, prefixes))
