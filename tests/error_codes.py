"""Every code in the error catalogue is produced by some test, or says here why it cannot be.

A pytest plugin (registered from ``tests/conftest.py``). For the whole session it records the
``code`` of every problem answer (RFC 9457, ``application/problem+json``) that a test receives
from the app over HTTP, whichever client the test used: the shared ``AsyncTestClient``, an
``httpx`` client against an ASGI transport, or one against a served app (``patrol serve``,
uvicorn). Both ``httpx.Client.send`` and ``httpx.AsyncClient.send`` are wrapped, so nothing
needs to be changed in a test. Per-item codes that the catalogue lists are recorded too, where
a JSON answer carries them: sync receipts (``code``) and their rejected items, rejected track
points (``reason``), layer import repairs, rejections, warnings and job errors (``code``).

The catalogue is :data:`infra.error_codes.CATALOGUE`: it holds every domain error code
(``infra.errors`` and each package's ``errors.py``), the HTTP layer's codes (``api.problems``)
and the per-item codes, each with its HTTP status, and ``tests/test_messages.py`` keeps it
complete.

In any run, whole suite or subset, the run fails when an answer carries a code the catalogue
does not have, or a problem answer's status is not the one the catalogue lists for its code.

At the end of a run of the whole suite (every test file under ``tests/`` collected, nothing
deselected, no ``-k``/``-m``, every collected test run), the run fails when a catalogue code
was never produced and is neither in :data:`EXCEPTIONS` (no test can produce it through the
API, with the reason) nor in :data:`GAPS` (a test could, none does yet), or when an entry of
either is stale (its code was produced, or is no longer in the catalogue). A run of a subset
only reports. The terminal summary lists the codes produced, the gaps and the codes missing.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from infra.error_codes import CATALOGUE

__all__ = ["EXCEPTIONS", "GAPS", "catalogue", "off_catalogue", "produced"]

_TESTS = Path(__file__).resolve().parent
_IGNORED_DIRS = ("benchmarks",)  # not tests: ``addopts`` ignores them

_BASE = "the default code of a base error class; every raise names a specific code"
_SCHEMA = "the request schema refuses it first (400 validation_error); the service check guards"

# Codes no test can produce through the API, each with the reason.
EXCEPTIONS: dict[str, str] = {
    # the object store adapter's errors: each caller turns them into its own answer, and
    # each is produced against the real S3 server by tests/test_objectstore.py
    "object_not_found": "the store's missing object; callers answer for it (head() gives "
    "None, an upload answers upload_incomplete, a derivative derivative_not_found)",
    "multipart_upload_not_found": "a multipart upload the store forgot; the upload service "
    "starts a new one (the phone resumes from the parts list)",
    "object_rejected": "the store refusing bytes (BadDigest, InvalidPart); uploads check the "
    "declared MD5 and parts first and answer invalid_md5 / upload_incomplete",
    "object_protected": "the store refusing to delete or overwrite an original; no operation "
    "deletes or overwrites an original (evidence is never altered)",
    "conflict": _BASE + " (ConflictError)",
    "domain_error": _BASE + " (DomainError)",
    "invalid_input": _BASE + " (InvalidInputError)",
    "invalid_step": _BASE + " (InvalidStepError)",
    "invalid_upload": _BASE + " (InvalidUploadError)",
    "unavailable": _BASE + " (UnavailableError: outages answer database_unavailable or "
    "storage_unavailable)",
    "permission_denied": _BASE + " (PermissionDeniedError); no guard or middleware raises "
    "Litestar's own 403",
    "rate_limited": _BASE + " (RateLimitedError: login throttling answers login_locked or "
    "login_busy); no middleware raises Litestar's own 429",
    "not_acceptable": "the HTTP fallback for a 406; no handler negotiates the response type, "
    "so Litestar never raises one",
    "op_not_supported": "a PushService built without a custody log; the app always gives it one "
    "(api/deps.py provide_push)",
    "package_tampered": "raised by PackageReport.raise_for_problems, which no operation calls: "
    "the verifier returns its report",
    "county_not_found": "every token names the caller's county and a county with users cannot "
    "be deleted; raised for the CLI (layers import, index load) with a county id",
    "too_many_points": "the service limits (20,000 track points, 10,000 checks) are at or above "
    "the schema's (10,000 points, 2,000 per sync op): " + _SCHEMA,
    "invalid_accuracy": "Accuracy is bounded to 0..10,000 m in every contract Struct: " + _SCHEMA,
    "invalid_grade": "Grade is bounded to 1..3 in the contract: " + _SCHEMA,
    "invalid_radius": "visitRadiusM is bounded to (0, 10,000] in the contract: " + _SCHEMA,
    "invalid_target_kind": "TargetKindName is an enum in the contract: " + _SCHEMA,
    "invalid_material": "MaterialKindName is an enum in the contract: " + _SCHEMA,
    "invalid_violation_kind": "ViolationKindName is an enum in the contract: " + _SCHEMA,
    "invalid_admin_code": "CountyCreate's code pattern is the same rule: "
    + _SCHEMA
    + " the CLI (patrol counties create)",
    "invalid_name": "Name is 1..100 characters in the contract: " + _SCHEMA + " the CLI",
    "invalid_province_code": "provinceCode has the same pattern in the contract: "
    + _SCHEMA
    + " the CLI",
    "password_too_short": "NewPassword has the same minimum length in the contract: " + _SCHEMA,
    "invalid_heading": "headingDeg is bounded to 0..360 in the contract: " + _SCHEMA,
    "invalid_sha256": "the contract's pattern takes hex of either case and the controller "
    "lowers it: " + _SCHEMA,
    "invalid_size": "sizeBytes >= 0 in the contract and 0 is file_empty: " + _SCHEMA,
    "invalid_text": "fileName, caption and proves have the same limits in the contract: " + _SCHEMA,
    "invalid_view_type": "viewType is an enum (REST) or the same pattern (sync) in the "
    "contract: " + _SCHEMA,
    "package_source_mismatch": "raised while the package streams, after the 200 and its "
    "headers are sent: the download breaks off; the CLI export and tests/cases/test_package.py "
    "see the error",
    "unknown_layer_kind": "every layer kind in the contract is the LayerKindName enum: "
    + _SCHEMA
    + " the CLI",
}

# Codes a test could produce through the API but none does yet: the known gaps, shown in
# the summary and allowed in a run; each entry says what the test would take.
GAPS: dict[str, str] = {}

produced: Counter[str] = Counter()

# Problem answers the catalogue does not account for: an unknown code, or a status the
# catalogue does not list for the code (``(code, status)``; ``status`` is ``None`` for a code
# found per item that the catalogue lacks).
off_catalogue: Counter[tuple[str, int | None]] = Counter()


def catalogue() -> set[str]:
    """Every code an answer of the app may carry."""
    return set(CATALOGUE)


# -- the recorder -------------------------------------------------------------------------------
_CATALOGUE = catalogue()


def _walk(value: Any) -> None:
    """Record the per-item codes in a decoded JSON answer."""
    if isinstance(value, dict):
        for key in ("code", "reason"):
            item = value.get(key)
            if isinstance(item, str) and item in _CATALOGUE:
                produced[item] += 1
        for child in value.values():
            if isinstance(child, dict | list):
                _walk(child)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                _walk(child)


def _record(response: httpx.Response) -> None:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not hasattr(response, "_content"):
        return  # a streamed answer the test has not read: a download, not a problem
    content = response.content
    try:
        if media == "application/problem+json":
            body = msgspec.json.decode(content)
            if isinstance(body, dict) and isinstance(body.get("code"), str):
                produced[body["code"]] += 1
                entry = CATALOGUE.get(body["code"])
                if entry is None or response.status_code not in entry.statuses:
                    off_catalogue[body["code"], response.status_code] += 1
                body = {k: v for k, v in body.items() if k != "code"}
            _walk(body)
        elif media.endswith("json") and (b'"code"' in content or b'"reason"' in content):
            _walk(msgspec.json.decode(content))
        elif media == "application/msgpack" and (b"code" in content or b"reason" in content):
            _walk(msgspec.msgpack.decode(content))
    except msgspec.DecodeError:
        return


def _is_problem(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "")
    return media.split(";")[0].strip().lower() == "application/problem+json"


def _wrap_sync(send: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
    @functools.wraps(send)
    def recording_send(self: httpx.Client, *args: Any, **kwargs: Any) -> httpx.Response:
        response = send(self, *args, **kwargs)
        if _is_problem(response) and not hasattr(response, "_content"):
            response.read()  # a streamed problem answer: small, and read once more from memory
        _record(response)
        return response

    return recording_send


def _wrap_async(
    send: Callable[..., Coroutine[Any, Any, httpx.Response]],
) -> Callable[..., Coroutine[Any, Any, httpx.Response]]:
    @functools.wraps(send)
    async def recording_send(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> httpx.Response:
        response = await send(self, *args, **kwargs)
        if _is_problem(response) and not hasattr(response, "_content"):
            await response.aread()
        _record(response)
        return response

    return recording_send


# -- the plugin ---------------------------------------------------------------------------------
class _Gate:
    def __init__(self) -> None:
        self.items = 0
        self.files: set[Path] = set()
        self.deselected = 0
        self.finished = 0
        self.verdict: list[str] = []
        self.whole = False

    def all_test_files(self) -> set[Path]:
        return {
            path
            for path in _TESTS.rglob("test_*.py")
            if not any(part in _IGNORED_DIRS for part in path.relative_to(_TESTS).parts)
        }


_gate = _Gate()
_originals: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    if _originals:
        return
    _originals["sync"] = httpx.Client.send
    _originals["async"] = httpx.AsyncClient.send
    httpx.Client.send = _wrap_sync(httpx.Client.send)  # type: ignore[method-assign]
    httpx.AsyncClient.send = _wrap_async(httpx.AsyncClient.send)  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _originals:
        httpx.Client.send = _originals.pop("sync")  # type: ignore[method-assign]
        httpx.AsyncClient.send = _originals.pop("async")  # type: ignore[method-assign]


def pytest_deselected(items: list[pytest.Item]) -> None:
    _gate.deselected += len(items)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    path = report.fspath
    if path.endswith(".py"):  # a module, collected or skipped as a whole
        _gate.files.add(Path(path).resolve())


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    _gate.items = len(session.items)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _gate.finished += 1


def _whole_suite(session: pytest.Session) -> tuple[bool, str]:
    option = session.config.option
    if getattr(option, "keyword", "") or getattr(option, "markexpr", ""):
        return False, "-k or -m selects a subset"
    if _gate.deselected:
        return False, f"{_gate.deselected} tests deselected"
    missing_files = _gate.all_test_files() - _gate.files
    if missing_files:
        return False, f"{len(missing_files)} test files not collected"
    if _gate.finished < _gate.items:
        return False, f"only {_gate.finished} of {_gate.items} tests ran"
    return True, ""


def off_catalogue_verdict() -> list[str]:
    """Problem answers that break the catalogue, in any run (empty when none did)."""
    if not off_catalogue:
        return []
    listed = ", ".join(
        f"{code} {status}"
        + (
            f" (the catalogue says {', '.join(map(str, CATALOGUE[code].statuses)) or 'none'})"
            if code in CATALOGUE
            else " (not in infra/error_codes.py)"
        )
        for code, status in sorted(off_catalogue)
    )
    return [f"problem answers off the catalogue: {listed}"]


def verdict() -> list[str]:
    """What is wrong with the codes produced so far (empty when nothing is)."""
    cat = catalogue()
    problems = off_catalogue_verdict()
    missing = sorted(cat - set(produced) - set(EXCEPTIONS) - set(GAPS))
    if missing:
        problems.append(f"catalogue codes no test produced: {', '.join(missing)}")
    listed = {**EXCEPTIONS, **GAPS}
    stale = sorted(code for code in listed if code in produced or code not in cat)
    if stale:
        problems.append(
            f"exceptions or gaps to remove (produced, or not in the catalogue): {stale}"
        )
    both = sorted(set(EXCEPTIONS) & set(GAPS))
    if both:
        problems.append(f"codes both excepted and listed as gaps: {both}")
    unreasoned = sorted(code for code, why in listed.items() if len(why.split()) < 5)
    if unreasoned:
        problems.append(f"exceptions without a reason: {unreasoned}")
    return problems


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _gate.whole, why = _whole_suite(session)
    if not _gate.whole:
        _gate.verdict = [f"a subset ran ({why}): missing codes are reported, not enforced"]
        if off_catalogue and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    _gate.verdict = verdict()
    if _gate.verdict and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    cat = catalogue()
    seen = sorted(code for code in produced if code in cat)
    missing = sorted(cat - set(produced))
    unexcused = [code for code in missing if code not in EXCEPTIONS]
    tr = terminalreporter
    tr.section("error codes")
    tr.write_line(f"catalogue: {len(cat)} codes; produced: {len(seen)}; missing: {len(missing)}")
    tr.write_line("produced: " + ", ".join(f"{c} ({produced[c]})" for c in seen))
    unexcused = [code for code in unexcused if code not in GAPS]
    excused = [code for code in missing if code in EXCEPTIONS]
    if excused:
        tr.write_line(f"missing, with a reason in tests/error_codes.py: {', '.join(excused)}")
    gaps = [code for code in missing if code in GAPS]
    if gaps:
        tr.write_line(f"known gaps (a test could produce them): {', '.join(gaps)}", yellow=True)
    if unexcused and _gate.whole:
        tr.write_line(f"missing: {', '.join(unexcused)}", red=True)
    elif unexcused:
        tr.write_line(f"missing without a reason: {len(unexcused)} (listed on a run of the suite)")
    unknown = sorted(code for code in produced if code not in cat)
    if unknown:
        tr.write_line(f"codes answered that the catalogue lacks: {', '.join(unknown)}")
    for line in _gate.verdict:
        tr.write_line(line, red=_gate.whole, yellow=not _gate.whole)
    if not _gate.whole:
        for line in off_catalogue_verdict():
            tr.write_line(line, red=True)
