"""Typed settings, read from the environment once and passed to ``create_app``.

Every variable is documented in the README. Nothing here opens a connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

__all__ = [
    "EMBEDDED_S3_PORT",
    "AuthSettings",
    "DatabaseSettings",
    "EvidenceSettings",
    "LayerSettings",
    "ObjectStoreSettings",
    "ProcedureSettings",
    "ReportSettings",
    "SatelliteSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "TipOffDeadlines",
    "TipOffSettings",
]


class SettingsError(ValueError):
    """A variable has a value that cannot be used."""


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        msg = f"{name} must be a number of seconds, got {raw!r}"
        raise SettingsError(msg) from exc
    if not value >= 0:  # also refuses NaN
        msg = f"{name} must not be negative, got {raw!r}"
        raise SettingsError(msg)
    return value


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        msg = f"{name} must be an integer, got {raw!r}"
        raise SettingsError(msg) from exc


def _non_negative(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        msg = f"{name} must not be negative, got {env.get(name)!r}"
        raise SettingsError(msg)
    return value


def _port(env: dict[str, str], name: str, default: int, *, zero_ok: bool = False) -> int:
    value = _int(env, name, default)
    if not (0 if zero_ok else 1) <= value <= 65535:
        lowest = "0" if zero_ok else "1"
        msg = f"{name} must be a port number from {lowest} to 65535, got {env.get(name)!r}"
        raise SettingsError(msg)
    return value


def _path(env: dict[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


def _base_url(env: dict[str, str], name: str) -> str:
    """``scheme://host[:port]`` or empty; anything else names ``name`` in the error."""
    raw = env.get(name, "").strip().rstrip("/")
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        msg = f"{name} must look like http://192.168.1.10:8001, got {raw!r}"
        raise SettingsError(msg) from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
        msg = f"{name} must look like http://192.168.1.10:8001, got {raw!r}"
        raise SettingsError(msg)
    return raw


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``DATABASE_URL`` (``postgresql+asyncpg://...``); empty means the embedded cluster.

    The timeouts bound how long a request waits on an unreachable or hung database before it
    answers 503 ``database_unavailable``: opening a connection, one statement (enforced by
    the server, and by the client half a second later when the server does not answer), and
    waiting for a free pooled connection. ``0`` switches a timeout off.
    """

    url: str = ""
    pool_size: int = 10
    echo: bool = False
    connect_timeout_s: float = 3.0
    statement_timeout_s: float = 4.0
    pool_timeout_s: float = 3.0

    @property
    def embedded(self) -> bool:
        return not self.url

    def for_background_work(self) -> DatabaseSettings:
        """The same database for work no request waits on (the command line, migrations,
        background jobs): statements are not bounded (a large import or migration may
        rightly run for minutes), connecting and waiting for the pool still are."""
        return replace(self, statement_timeout_s=0.0, pool_size=min(self.pool_size, 4))


EMBEDDED_S3_PORT = 8001
"""Where the embedded ``rclone serve s3`` listens unless ``PATROL_S3_PORT`` says otherwise."""


@dataclass(frozen=True, slots=True)
class ObjectStoreSettings:
    """S3-compatible store; an empty endpoint means the embedded ``rclone serve s3``.

    The server talks to ``endpoint_url``; presigned URLs handed to phones and browsers name
    ``public_url`` instead when it is set (the address they reach the same store at, e.g. the
    brigade network's ``http://192.168.1.10:8001``). The embedded server listens on
    ``embedded_host:embedded_port`` (``0``: any free port).
    """

    endpoint_url: str = ""
    public_url: str = ""
    embedded_host: str = "127.0.0.1"
    embedded_port: int = EMBEDDED_S3_PORT
    bucket: str = "patrol-evidence"
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    region: str = "us-east-1"
    presign_ttl_s: int = 900
    # How long one S3 call may take before the request answers 503 ``storage_unavailable``:
    # connect and read timeouts per attempt, and how many times a failed attempt is retried.
    # Assembling a multipart upload can take the store a while: it gets its own read timeout.
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 2.0
    retries: int = 1
    complete_timeout_s: float = 120.0

    @property
    def embedded(self) -> bool:
        return not self.endpoint_url


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Tokens, login throttling and password checking.

    Failed logins are counted per client address and username (``login_max_failures``) and
    per client address (``login_max_failures_per_address``) within ``login_lockout_s``; the
    client address is the connection's peer, or the last ``X-Forwarded-For`` hop added by
    one of ``trusted_proxies`` (addresses or networks). Passwords are checked by
    ``password_workers`` threads at low priority (one check already runs argon2's four lanes
    on as many cores; one thread kept a two-core machine's other requests within 2x under a
    flood, two did not always); beyond ``password_queue`` logins waiting for one, a login is
    refused at once with 503 ``login_busy``. ``metrics_token``, when set, is a bearer token
    that may read ``/metrics`` and nothing else (admins' tokens may read it too).
    """

    secret_key: str = field(default="", repr=False)
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    device_token_ttl_s: int = 365 * 24 * 3600
    login_max_failures: int = 5
    login_lockout_s: int = 900
    login_max_failures_per_address: int = 100
    trusted_proxies: tuple[str, ...] = ()
    password_workers: int = 1
    password_queue: int = 16
    metrics_token: str = field(default="", repr=False)
    #: how long a resolved caller is remembered (0: resolved from the database every time)
    caller_cache_s: float = 2.0
    #: usernames (admins) who may also create and list counties through the API
    platform_admins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvidenceSettings:
    """``package_signing_key`` keys the custody chain (and verifies packages signed before
    Ed25519 signatures); packages are signed with the Ed25519 key of ``package_key_dir``
    (``None``: ``<data dir>/package-keys``), whose private half is ``package_signing_key_file``
    when given (a PEM file; generated into the directory on first use when not)."""

    max_photo_bytes: int = 50 * 1024 * 1024
    max_video_bytes: int = 4 * 1024 * 1024 * 1024
    package_signing_key: str = field(default="", repr=False)
    package_key_dir: Path | None = None
    package_signing_key_file: Path | None = None
    caption_font: str = ""  # a CJK font file for captions; empty: found at run time


@dataclass(frozen=True, slots=True)
class LayerSettings:
    """Reference-layer limits: uploads above ``import_job_bytes`` are imported in the
    background; a GeoJSON layer answer stops at ``geojson_max_bytes`` (the rest on the next
    page); a vector tile above ``tile_max_bytes`` is refused. The in-process geofence index
    holds the layers of at most ``index_budget_mb`` MiB (least recently used counties are
    evicted, and their checks answered by PostGIS; 0: no limit)."""

    import_job_bytes: int = 8 * 1024 * 1024
    geojson_max_bytes: int = 16 * 1024 * 1024
    tile_max_bytes: int = 2 * 1024 * 1024
    index_budget_mb: int = 1024


@dataclass(frozen=True, slots=True)
class TipOffDeadlines:
    """Working days a 12336 clue's steps may take, counted from the day it was received:
    decide (register, classify, accept or refuse), verify on site, feed back to the
    reporter."""

    decide_days: int = 1
    verify_days: int = 10
    feedback_days: int = 15


def _deadlines(env: dict[str, str], name: str) -> Mapping[str, TipOffDeadlines]:
    """``43:1/10/15,44:1/7/15``: a province code, then decide/verify/feedback working days."""
    out: dict[str, TipOffDeadlines] = {}
    for part in (p.strip() for p in env.get(name, "").split(",")):
        if not part:
            continue
        try:
            code, figures = part.split(":")
            decide, verify, feedback = (int(x) for x in figures.split("/"))
        except ValueError as exc:
            msg = f"{name} must look like 43:1/10/15,44:1/7/15, got {part!r}"
            raise SettingsError(msg) from exc
        if len(code) != 2 or min(decide, verify, feedback) < 1:
            msg = f"{name}: a 2-digit province code and working days of at least 1, got {part!r}"
            raise SettingsError(msg)
        out[code] = TipOffDeadlines(decide, verify, feedback)
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class TipOffSettings:
    """12336 clues: step deadlines per province (``deadlines``, by province code; a province
    not named takes ``default``) and the radius within which a new clue about the same
    reported party repeats an open one (``duplicate_radius_m``)."""

    default: TipOffDeadlines = TipOffDeadlines()
    deadlines: Mapping[str, TipOffDeadlines] = field(default_factory=lambda: MappingProxyType({}))
    duplicate_radius_m: float = 200.0

    def for_province(self, province_code: str) -> TipOffDeadlines:
        return self.deadlines.get(province_code, self.default)


@dataclass(frozen=True, slots=True)
class SatelliteSettings:
    """Satellite campaigns: the schedule's defaults and the accountability indicator.

    ``quarter_report_days``: a quarterly batch is reported up this many days after its quarter
    ends (a monthly batch by the end of the next month: 月清); field results are due
    ``review_days`` before that, leaving the county its review. ``ratio_threshold``: the share
    of illegally occupied cultivated land in newly built land above which a county faces
    summons (约谈) and accountability."""

    quarter_report_days: int = 60
    review_days: int = 10
    ratio_threshold: float = 0.15


JOINT_MEETING_MEMBERS = (
    "县自然资源局",
    "县公安局",
    "县人民检察院",
    "县人民法院",
    "县应急管理局",
    "县供电公司",
    "县生态环境分局",
    "县林业局",
)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Reports: when each is due and who sits on the joint meeting.

    A period's report is due on day ``monthly_due_day`` of the month after it (the brigade's
    monthly report), ``quarterly_due_day`` of the first month of the next quarter (the
    quarterly tables and the joint meeting's bulletin) and ``annual_due_day`` of January
    (the annual tables); one not produced by then raises a ``report_overdue`` alert.
    ``joint_meeting_members``: the departments of the county's joint meeting (联席会议), named
    in its bulletin."""

    monthly_due_day: int = 5
    quarterly_due_day: int = 3
    annual_due_day: int = 5
    joint_meeting_members: tuple[str, ...] = JOINT_MEETING_MEMBERS


def _members(env: dict[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    for sep in ("，", "、", ";", "；"):
        raw = raw.replace(sep, ",")
    found = tuple(p.strip() for p in raw.split(",") if p.strip())
    return found or JOINT_MEETING_MEMBERS


def _day_of_month(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if not 1 <= value <= 28:
        msg = f"{name} must be a day from 1 to 28, got {env.get(name)!r}"
        raise SettingsError(msg)
    return value


@dataclass(frozen=True, slots=True)
class ProcedureSettings:
    """The administrative penalty procedure's local figures.

    ``filing_working_days``: a check that meets the case criteria is filed (立案) within this
    many working days of the case's source time (an older national rule, kept as a setting).
    ``major_fine_yuan``: a penalty whose fines reach this sum is a major case (重大案件: legal
    review 法制审核 and collective discussion before the decision), as is one that triggers a
    hearing. ``hearing_fine_person_yuan`` / ``hearing_fine_organisation_yuan``: the "large
    fine" (较大数额罚款) that gives the party a right to a hearing, for a person and for an
    organisation; a province sets its own."""

    filing_working_days: int = 10
    major_fine_yuan: Decimal = Decimal(100_000)
    hearing_fine_person_yuan: Decimal = Decimal(10_000)
    hearing_fine_organisation_yuan: Decimal = Decimal(100_000)


def _yuan(env: dict[str, str], name: str, default: int) -> Decimal:
    raw = env.get(name)
    if raw is None or raw == "":
        return Decimal(default)
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        msg = f"{name} must be an amount of yuan, got {raw!r}"
        raise SettingsError(msg) from exc
    if not value.is_finite() or value < 0:
        msg = f"{name} must be an amount of yuan, at least 0, got {raw!r}"
        raise SettingsError(msg)
    return value


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 8 * 1024 * 1024
    log_level: str = "info"
    run_worker_in_process: bool = True
    worker_concurrency: int = 2  # jobs one worker (in-process or ``patrol worker``) runs at once
    # ``CheckLocation`` answered by api.fast_checks (same parts, less per-request machinery)
    fast_checks: bool = True
    # the web console's basemap: raster XYZ tiles on WGS84 ("" = the layers on a plain ground)
    console_basemap_url: str = ""
    console_basemap_attribution: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./var")
    database: DatabaseSettings = DatabaseSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    auth: AuthSettings = AuthSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    server: ServerSettings = ServerSettings()
    layers: LayerSettings = LayerSettings()
    tip_offs: TipOffSettings = TipOffSettings()
    satellite: SatelliteSettings = SatelliteSettings()
    reports: ReportSettings = ReportSettings()
    procedure: ProcedureSettings = ProcedureSettings()

    @property
    def package_key_dir(self) -> Path:
        """Where the package keys are (``PATROL_PACKAGE_KEY_DIR``, else in the data dir)."""
        return self.evidence.package_key_dir or self.data_dir / "package-keys"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        secret = env.get("PATROL_SECRET_KEY", "")
        return cls(
            data_dir=Path(env.get("PATROL_DATA_DIR", "./var")),
            database=DatabaseSettings(
                url=env.get("DATABASE_URL", ""),
                pool_size=_int(env, "DATABASE_POOL_SIZE", 10),
                echo=env.get("DATABASE_ECHO", "") == "1",
                connect_timeout_s=_float(env, "DATABASE_CONNECT_TIMEOUT_S", 3.0),
                statement_timeout_s=_float(env, "DATABASE_STATEMENT_TIMEOUT_S", 4.0),
                pool_timeout_s=_float(env, "DATABASE_POOL_TIMEOUT_S", 3.0),
            ),
            object_store=ObjectStoreSettings(
                endpoint_url=env.get("S3_ENDPOINT_URL", ""),
                public_url=_base_url(env, "S3_PUBLIC_URL"),
                embedded_host=env.get("PATROL_S3_HOST", "") or "127.0.0.1",
                embedded_port=_port(env, "PATROL_S3_PORT", EMBEDDED_S3_PORT, zero_ok=True),
                bucket=env.get("S3_BUCKET", "patrol-evidence"),
                access_key_id=env.get("S3_ACCESS_KEY_ID", ""),
                secret_access_key=env.get("S3_SECRET_ACCESS_KEY", ""),
                region=env.get("S3_REGION", "us-east-1"),
                presign_ttl_s=_int(env, "S3_PRESIGN_TTL_S", 900),
                connect_timeout_s=_float(env, "S3_CONNECT_TIMEOUT_S", 2.0),
                read_timeout_s=_float(env, "S3_READ_TIMEOUT_S", 2.0),
                retries=_int(env, "S3_RETRIES", 1),
                complete_timeout_s=_float(env, "S3_COMPLETE_TIMEOUT_S", 120.0),
            ),
            auth=AuthSettings(
                secret_key=secret,
                access_token_ttl_s=_int(env, "PATROL_ACCESS_TOKEN_TTL_S", 900),
                refresh_token_ttl_s=_int(env, "PATROL_REFRESH_TOKEN_TTL_S", 30 * 24 * 3600),
                device_token_ttl_s=_int(env, "PATROL_DEVICE_TOKEN_TTL_S", 365 * 24 * 3600),
                login_max_failures=_int(env, "PATROL_LOGIN_MAX_FAILURES", 5),
                login_lockout_s=_int(env, "PATROL_LOGIN_LOCKOUT_S", 900),
                login_max_failures_per_address=_int(
                    env, "PATROL_LOGIN_MAX_FAILURES_PER_ADDRESS", 100
                ),
                trusted_proxies=tuple(
                    p.strip() for p in env.get("PATROL_TRUSTED_PROXIES", "").split(",") if p.strip()
                ),
                password_workers=max(1, _int(env, "PATROL_PASSWORD_WORKERS", 1)),
                password_queue=max(0, _int(env, "PATROL_PASSWORD_QUEUE", 16)),
                metrics_token=env.get("PATROL_METRICS_TOKEN", ""),
                caller_cache_s=max(0.0, _float(env, "PATROL_CALLER_CACHE_S", 2.0)),
                platform_admins=tuple(
                    n.strip() for n in env.get("PATROL_PLATFORM_ADMINS", "").split(",") if n.strip()
                ),
            ),
            evidence=EvidenceSettings(
                max_photo_bytes=_int(env, "PATROL_MAX_PHOTO_BYTES", 50 * 1024 * 1024),
                max_video_bytes=_int(env, "PATROL_MAX_VIDEO_BYTES", 4 * 1024 * 1024 * 1024),
                package_signing_key=env.get("PATROL_PACKAGE_SIGNING_KEY", secret),
                package_key_dir=_path(env, "PATROL_PACKAGE_KEY_DIR"),
                package_signing_key_file=_path(env, "PATROL_PACKAGE_SIGNING_KEY_FILE"),
                caption_font=env.get("PATROL_CAPTION_FONT", ""),
            ),
            server=ServerSettings(
                host=env.get("PATROL_HOST", "127.0.0.1"),
                port=_port(env, "PATROL_PORT", 8000),
                max_body_bytes=_int(env, "PATROL_MAX_BODY_BYTES", 8 * 1024 * 1024),
                log_level=env.get("PATROL_LOG_LEVEL", "info"),
                run_worker_in_process=env.get("PATROL_INPROCESS_WORKER", "1") != "0",
                worker_concurrency=max(1, _int(env, "PATROL_WORKER_CONCURRENCY", 2)),
                fast_checks=env.get("PATROL_FAST_CHECKS", "1") != "0",
                console_basemap_url=env.get("PATROL_CONSOLE_BASEMAP_URL", "").strip(),
                console_basemap_attribution=env.get("PATROL_CONSOLE_BASEMAP_ATTRIBUTION", ""),
            ),
            layers=LayerSettings(
                import_job_bytes=_int(env, "PATROL_LAYER_IMPORT_JOB_BYTES", 8 * 1024 * 1024),
                geojson_max_bytes=_int(env, "PATROL_LAYER_GEOJSON_MAX_BYTES", 16 * 1024 * 1024),
                tile_max_bytes=_int(env, "PATROL_TILE_MAX_BYTES", 2 * 1024 * 1024),
                index_budget_mb=_non_negative(env, "PATROL_INDEX_BUDGET_MB", 1024),
            ),
            tip_offs=TipOffSettings(
                deadlines=_deadlines(env, "PATROL_TIP_OFF_DEADLINES"),
                duplicate_radius_m=_float(env, "PATROL_TIP_OFF_DUPLICATE_RADIUS_M", 200.0),
            ),
            satellite=SatelliteSettings(
                quarter_report_days=max(1, _int(env, "PATROL_SATELLITE_QUARTER_REPORT_DAYS", 60)),
                review_days=max(0, _int(env, "PATROL_SATELLITE_REVIEW_DAYS", 10)),
                ratio_threshold=_float(env, "PATROL_SATELLITE_RATIO_THRESHOLD", 0.15),
            ),
            reports=ReportSettings(
                monthly_due_day=_day_of_month(env, "PATROL_REPORT_MONTHLY_DUE_DAY", 5),
                quarterly_due_day=_day_of_month(env, "PATROL_REPORT_QUARTERLY_DUE_DAY", 3),
                annual_due_day=_day_of_month(env, "PATROL_REPORT_ANNUAL_DUE_DAY", 5),
                joint_meeting_members=_members(env, "PATROL_JOINT_MEETING_MEMBERS"),
            ),
            procedure=ProcedureSettings(
                filing_working_days=max(1, _int(env, "PATROL_CASE_FILING_WORKING_DAYS", 10)),
                major_fine_yuan=_yuan(env, "PATROL_CASE_MAJOR_FINE_YUAN", 100_000),
                hearing_fine_person_yuan=_yuan(env, "PATROL_CASE_HEARING_FINE_PERSON_YUAN", 10_000),
                hearing_fine_organisation_yuan=_yuan(
                    env, "PATROL_CASE_HEARING_FINE_ORGANISATION_YUAN", 100_000
                ),
            ),
        )

    def validate(self) -> None:
        """Raise :class:`SettingsError` when the service cannot run with these values."""
        if len(self.auth.secret_key) < 32:
            msg = "PATROL_SECRET_KEY must be set to at least 32 characters"
            raise SettingsError(msg)
        if not self.database.url.startswith("postgresql+asyncpg://"):
            msg = "DATABASE_URL must start with postgresql+asyncpg://"
            raise SettingsError(msg)
        if self.auth.metrics_token and len(self.auth.metrics_token) < 32:
            msg = "PATROL_METRICS_TOKEN must be at least 32 characters when set"
            raise SettingsError(msg)
        basemap = self.server.console_basemap_url
        if basemap and not (
            basemap.startswith(("https://", "http://"))
            and all(k in basemap for k in ("{z}", "{x}", "{y}"))
        ):
            msg = "PATROL_CONSOLE_BASEMAP_URL must be an http(s) URL with {z}, {x} and {y}"
            raise SettingsError(msg)
        if not self.object_store.endpoint_url:
            msg = "S3_ENDPOINT_URL must be set"
            raise SettingsError(msg)
