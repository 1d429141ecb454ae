"""Descriptive fields of evidence: caption, what it proves, view type.

Only these fields change here. They live on the upload row (``evidence_uploads``), beside
the declaration; the original, its SHA-256 and its object key are never touched (and the
``evidence`` table refuses changes to them anyway).

* Who: the uploader, or a captain or admin of the county. Evidence of another county, or
  evidence the caller may not see, does not exist for them (``evidence_not_found``); the
  security squad, who may see case evidence, may not edit it (``not_evidence_editor``).
* An upload the phone has not completed yet may be edited by its uploader: the caption is
  part of its declaration and carries over when the upload is accepted.
* Every change of accepted evidence appends a custody entry (``annotated``) with the old
  and new values, so what an exhibit said at any time can be shown.
* ``version`` is the upload row's ``xmin``. With ``base_version`` older than the server's,
  a field changed on both sides is a conflict; ``base`` (the phone's values before its
  edit) lets edits of different fields merge, as for findings. Without ``base_version``
  only ``base`` is compared (no base: the edit applies).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from evidence.custody import CustodyLog
from evidence.errors import EvidenceNotFoundError, InvalidUploadError
from evidence.models import Evidence, Upload
from evidence.uploads import VIEW_TYPES
from infra import error_codes as codes
from infra.errors import PermissionDeniedError
from infra.scope import Principal, Role

__all__ = ["ANNOTATED", "ANNOTATION_FIELDS", "AnnotationResult", "update_evidence_annotation"]

#: The custody action of a change of descriptive fields.
ANNOTATED = "annotated"
ANNOTATION_FIELDS = ("caption", "proves", "view_type")
_MAX_TEXT = 4000
_EDITORS = (Role.CAPTAIN, Role.ADMIN)
_VERSION: ColumnClause[Any] = literal_column("evidence_uploads.xmin::text::bigint")
_XMIN = text("SELECT xmin::text::bigint FROM evidence_uploads WHERE id = :id")


@dataclass(frozen=True, slots=True)
class AnnotationResult:
    """``applied``, ``unchanged`` (the values were already so) or ``conflict``.

    ``fields`` are the fields changed (applied) or clashing (conflict); ``server_values``
    holds the server's values of the clashing fields. ``accepted`` is false while the
    upload is still open.
    """

    evidence_id: uuid.UUID
    version: int
    status: Literal["applied", "unchanged", "conflict"]
    accepted: bool
    fields: list[str] = field(default_factory=list)
    server_values: dict[str, Any] = field(default_factory=dict)


def _changes(caption: str | None, proves: str | None, view_type: str | None) -> dict[str, Any]:
    new: dict[str, Any] = {}
    for name, value in (("caption", caption), ("proves", proves)):
        if value is None:
            continue
        if len(value) > _MAX_TEXT:
            msg = f"{name} may have at most {_MAX_TEXT} characters"
            raise InvalidUploadError(msg, code=codes.INVALID_TEXT, field=name)
        new[name] = value
    if view_type is not None:
        if view_type and view_type not in VIEW_TYPES:
            msg = f"view_type must be one of {sorted(VIEW_TYPES)} (or empty to clear it)"
            raise InvalidUploadError(msg, code=codes.INVALID_VIEW_TYPE, field="view_type")
        new["view_type"] = view_type or None
    return new


def _clashing(
    new: Mapping[str, Any],
    current: Mapping[str, Any],
    base: Mapping[str, Any],
    *,
    version: int,
    base_version: int | None,
) -> list[str]:
    stale = base_version is not None and base_version != version
    out = []
    for key, value in new.items():
        if current[key] == value:
            continue
        if key in base:
            if current[key] != base[key] and (stale or base_version is None):
                out.append(key)
        elif stale:
            out.append(key)
    return out


async def update_evidence_annotation(
    session: AsyncSession,
    principal: Principal,
    evidence_id: uuid.UUID,
    *,
    base_version: int | None,
    caption: str | None = None,
    proves: str | None = None,
    view_type: str | None = None,
    base: Mapping[str, Any] | None = None,
    custody: CustodyLog,
) -> AnnotationResult:
    """Change the caption, ``proves`` or view type of one evidence (``None``: unchanged).

    ``custody`` must be keyed like the evidence service's log (the county chain is one).
    Errors: 404 ``evidence_not_found``; 403 ``not_evidence_editor``; 422 ``invalid_text``,
    ``invalid_view_type``. A conflict is a result, not an error: nothing is changed.
    """
    new = _changes(caption, proves, view_type)
    stmt = (
        select(Upload, _VERSION, Evidence.id)
        .outerjoin(Evidence, Evidence.id == Upload.id)
        .where(Upload.id == evidence_id, Upload.county_id == principal.county_id)
        .with_for_update(of=Upload)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).first()
    upload: Upload | None = None if row is None else row[0]
    accepted = row is not None and row[2] is not None
    mine = upload is not None and upload.uploader_id == principal.user_id
    if upload is None or not (accepted or (upload.status == "open" and mine)):
        raise EvidenceNotFoundError("no such evidence", evidence_id=str(evidence_id))
    if not (mine or principal.has_role(*_EDITORS)):
        if principal.has_role(Role.SECURITY_SQUAD) and upload.case_id is not None:
            msg = "only the uploader, captains and admins may edit evidence"
            raise PermissionDeniedError(msg, code=codes.NOT_EVIDENCE_EDITOR)
        raise EvidenceNotFoundError("no such evidence", evidence_id=str(evidence_id))
    version = int(row[1]) if row is not None else 0
    current = {key: getattr(upload, key) for key in new}
    clashing = _clashing(new, current, dict(base or {}), version=version, base_version=base_version)
    if clashing:
        return AnnotationResult(
            upload.id, version, "conflict", accepted, clashing,
            {key: current[key] for key in clashing},
        )  # fmt: skip
    changed = [key for key, value in new.items() if current[key] != value]
    if not changed:
        return AnnotationResult(upload.id, version, "unchanged", accepted)
    for key in changed:
        setattr(upload, key, new[key])
    await session.flush()
    if accepted:
        await custody.append(
            session,
            county_id=upload.county_id,
            action=ANNOTATED,
            subject_id=upload.id,
            actor_id=principal.user_id,
            details={
                "changes": {key: {"from": current[key], "to": new[key]} for key in changed},
                "version_before": version,
            },
        )
    new_version = int(await session.scalar(_XMIN, {"id": upload.id}) or 0)
    return AnnotationResult(upload.id, new_version, "applied", accepted, changed)
