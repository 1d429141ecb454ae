"""Every module that declares ORM models, imported before migrations or metadata checks."""

from __future__ import annotations

__all__ = ["MODEL_MODULES"]

MODEL_MODULES: tuple[str, ...] = (
    "patrol.models",
    "patrol.field_models",
    "geofence.models",
    "evidence.models",
    "evidence.cases.models",
    "evidence.cases.petition_models",
    "evidence.cases.tip_off_models",
    "evidence.cases.satellite_models",
    "evidence.cases.report_models",
    "evidence.cases.procedure_models",
    "evidence.cases.document_models",
    "sync.models",
)
