"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Health", "Readiness", "ReadinessCheck"]


class Health(msgspec.Struct, kw_only=True, rename="camel"):
    status: Literal["ok"] = "ok"
    version: str


class ReadinessCheck(msgspec.Struct, kw_only=True, rename="camel"):
    ok: bool
    detail: str = ""


class Readiness(msgspec.Struct, kw_only=True, rename="camel"):
    status: Literal["ready", "unavailable"]
    checks: dict[str, ReadinessCheck]
