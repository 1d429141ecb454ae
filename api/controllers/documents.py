"""The case file's documents and the 案卷 export.

Captains and admins generate documents and attach scans; whoever may read the case lists,
reads and downloads its documents (joint-team members no document carrying an ID number:
403 ``document_has_id_numbers``); captains and admins export the 案卷 (a signed ZIP,
streamed). Another county's case or document, or one the caller may not see, does not
exist (404). Every handler is one call of
:class:`~evidence.cases.documents.DocumentService` and a mapping.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody, MultipartBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.deps import Caller, Documents
from api.mapping import to_wire, to_wire_list
from evidence.cases import documents as dc
from evidence.cases.errors import InvalidCaseDocumentError
from infra import error_codes as codes
from mobile_contract.v1 import documents as d

__all__ = ["MAX_SCAN_UPLOAD_BYTES", "CaseDocumentController"]

# the scan itself (20 MiB) and the multipart envelope around it
MAX_SCAN_UPLOAD_BYTES = dc.MAX_SCAN_BYTES + 64 * 1024
_CHUNK = 1024 * 1024


@dataclass
class ScanUpload:
    """A signed/stamped scan of the printed document: PDF, JPEG or PNG, at most 20 MiB."""

    file: UploadFile


def _disposition(name: str) -> str:
    plain = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _spool(upload: UploadFile, directory: Path) -> Path:
    """Copy the upload to a file in chunks, refusing more than the scan limit."""
    path = directory / "scan"
    size = 0
    out = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > dc.MAX_SCAN_BYTES:
                raise InvalidCaseDocumentError(
                    "a scan is at most 20 MiB", code=codes.INVALID_DOCUMENT_SCAN, field="file",
                    max_bytes=dc.MAX_SCAN_BYTES,
                )  # fmt: skip
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return path


class CaseDocumentController(Controller):
    path = "/cases/{case_id:uuid}"
    tags = ["documents"]  # noqa: RUF012

    @post(
        "/documents",
        operation_id="GenerateCaseDocument",
        status_code=HTTP_201_CREATED,
        summary="Generate a document of the case (captains, admins)",
    )
    async def generate(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[d.CaseDocumentCreate],
        documents: Documents,
        principal: Caller,
    ) -> d.CaseDocument:
        """Filled from the case, numbered (文号, per county, kind and year, without gaps),
        stored as a PDF that never changes, logged in the custody chain with its hash, and
        linked to ``stepId``. A document stating the penalty before it is entered: 409
        ``document_not_ready``."""
        data_in = dc.DocumentInput(
            data.kind.value, data.step_id, [(x.question, x.answer) for x in data.qa]
        )
        return to_wire(d.CaseDocument, await documents.generate(principal, case_id, data_in))

    @get("/documents", operation_id="ListCaseDocuments", summary="The case's documents")
    async def list_documents(
        self, case_id: FromPath[uuid.UUID], documents: Documents, principal: Caller
    ) -> list[d.CaseDocument]:
        """In the case file's order (by stage), each with its scans."""
        views = await documents.list_documents(principal, case_id)
        return to_wire_list(d.CaseDocument, views)

    @get(
        "/documents/{document_id:uuid}",
        operation_id="GetCaseDocument",
        summary="One document's metadata",
    )
    async def get_document(
        self,
        case_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
        documents: Documents,
        principal: Caller,
    ) -> d.CaseDocument:
        """Number, hash, size, pages, what it states, its scans."""
        view = await documents.get_document(principal, case_id, document_id)
        return to_wire(d.CaseDocument, view)

    @get(
        "/documents/{document_id:uuid}/file",
        operation_id="DownloadCaseDocument",
        summary="The document's PDF",
        media_type="application/pdf",
        opt={"skip_compression": True},
    )
    async def download(
        self,
        case_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
        documents: Documents,
        principal: Caller,
    ) -> Response[bytes]:
        """Checked against its hash and logged (``downloaded`` in the custody chain)."""
        found = await documents.download(principal, case_id, document_id)
        return Response(
            found.data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": _disposition(found.file_name),
                "X-Document-Sha256": found.view.sha256,
            },
        )

    @post(
        "/documents/{document_id:uuid}/scans",
        operation_id="AttachDocumentScan",
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_SCAN_UPLOAD_BYTES,
        summary="Attach the signed/stamped scan of a document (captains, admins)",
    )
    async def attach_scan(
        self,
        case_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
        data: MultipartBody[ScanUpload],
        documents: Documents,
        principal: Caller,
    ) -> d.CaseDocument:
        """A PDF, JPEG or PNG of at most 20 MiB (the type is read from the file), stored,
        hashed and logged in the custody chain; 422 ``invalid_document_scan`` otherwise."""
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="scan-"))
        try:
            path = await _spool(data.file, tmp)
            view = await documents.attach_scan(
                principal, case_id, document_id, path, file_name=data.file.filename or ""
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        return to_wire(d.CaseDocument, view)

    @get(
        "/case-file",
        operation_id="ExportCaseFile",
        status_code=HTTP_200_OK,
        summary="Download the case file (案卷) as a signed ZIP",
        media_type="application/zip",
        opt={"skip_compression": True},
    )
    async def export_case_file(
        self, case_id: FromPath[uuid.UUID], documents: Documents, principal: Caller
    ) -> Stream:
        """Cover, catalogue with pages, the documents by stage with their scans, the
        evidence list, the originals (hash-checked while streaming) and the captioned
        photos, with a manifest signed like a referral package (``patrol package verify``).
        Logged before the first byte is sent."""
        found = await documents.export_case_file(principal, case_id)
        return Stream(
            found,
            media_type="application/zip",
            headers={
                "Content-Disposition": _disposition(found.file_name),
                "X-Case-File-Id": str(found.file_id),
                "X-Manifest-Sha256": found.manifest_sha256,
            },
        )
