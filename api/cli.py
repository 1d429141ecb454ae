"""The ``patrol`` command: serve, database, demo data, users.

Every command reads settings from the environment; with nothing configured it uses (and if
needed starts) the embedded PostGIS cluster and S3 server under ``PATROL_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import secrets
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import MODEL_MODULES
from api.runner import embedded_services
from infra import error_codes as codes
from infra.db import create_engine, create_session_factory, database_unavailable
from infra.errors import DomainError, InvalidInputError, UnavailableError
from infra.launchers import LauncherError
from infra.logging import configure_logging, quiet_events, seconds_since_last_line
from infra.messages import DEFAULT_LANG, Lang, label, render
from infra.migrate import Migrator
from infra.scope import Role
from infra.settings import Settings, SettingsError
from patrol.accounts import hash_password
from patrol.demo import DemoUser, seed_demo_county
from patrol.models import County, User

if TYPE_CHECKING:
    import uvicorn
    from rich.console import Console

    from evidence.cases.package_keys import PublicKey
    from geofence import ImportSummary

__all__ = ["main"]

_log = structlog.get_logger("api.cli")

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

_EX_UNAVAILABLE = 69  # sysexits.h: a service the command needs is down
_EX_SOFTWARE = 70  # sysexits.h: an internal error


async def _with_session(settings: Settings, fn: Callable[[AsyncSession], Awaitable[int]]) -> int:
    engine = create_engine(settings.database.for_background_work())
    try:
        async with create_session_factory(engine)() as session:
            code = await fn(session)
            await session.commit()
            return code
    finally:
        await engine.dispose()


# -- db ------------------------------------------------------------------------------------------
async def _db(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database.for_background_work())
    migrator = Migrator(engine, MODEL_MODULES)
    try:
        if args.action == "upgrade":
            await migrator.upgrade(args.revision or "heads")
        elif args.action == "downgrade":
            await migrator.downgrade(args.revision or "-1")
        current = sorted(await migrator.current())
        heads = sorted(migrator.heads())
        print(f"current: {', '.join(current) or '(empty)'}")
        print(f"heads:   {', '.join(heads)}")
        return 0 if args.action != "current" or current == heads else 3
    finally:
        await engine.dispose()


# -- demo ----------------------------------------------------------------------------------------
def write_demo_users(data_dir: Path, users: Sequence[DemoUser]) -> Path:
    path = data_dir / "demo-users.json"
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(
            [{"username": u.username, "password": u.password, "role": u.role} for u in users],
            fh,
            ensure_ascii=False,
            indent=2,
        )
    path.chmod(0o600)
    return path


async def seed_demo(settings: Settings) -> list[DemoUser]:
    """Seed the demo county (once) and everything later packages add to it.

    The seeders' own events (a few hundred patrols, photos and alerts) are summarised in one
    ``demo.seeded`` line; the logins go to ``<data dir>/demo-users.json`` (mode 600), never
    to the log.
    """
    from api.demo import seed_demo_extras  # noqa: PLC0415 - optional heavy demo data

    async def run(session: AsyncSession) -> int:
        demo = await seed_demo_county(session)
        if demo.created:
            _log.info("demo.seeding", county=demo.county.name)
            with quiet_events() as counts:
                await seed_demo_extras(session, demo, settings)
            seeded.extend(demo.users)
            _log.info("demo.seeded", users=len(demo.users), events=dict(sorted(counts.items())))
        return 0

    seeded: list[DemoUser] = []
    await _with_session(settings, run)
    if seeded:
        write_demo_users(settings.data_dir, seeded)
    return seeded


def demo_logins(settings: Settings, seeded: Sequence[DemoUser], *, passwords: bool) -> list[str]:
    """The demo logins block for the terminal: passwords only when ``passwords`` (a person at
    an interactive terminal), else the usernames and the file that holds them."""
    path = settings.data_dir.resolve() / "demo-users.json"
    if not seeded:
        return [f"Demo logins: {path}"] if path.is_file() else []
    where = "also in" if passwords else "passwords in"
    lines = [f"Demo county seeded. Demo logins ({where} {path}, readable only by you):"]
    for u in seeded:
        lines.append(f"  {u.role:<15} {u.username:<22} {u.password if passwords else ''}".rstrip())
    return lines


async def _demo(_args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database.for_background_work())
    try:
        await Migrator(engine, MODEL_MODULES).upgrade()
    finally:
        await engine.dispose()
    seeded = await seed_demo(settings)
    if not seeded:
        print("The demo county already exists; nothing was changed.")
    for line in demo_logins(settings, seeded, passwords=sys.stdout.isatty()):
        print(line)
    return 0


# -- users ---------------------------------------------------------------------------------------
async def _users(args: argparse.Namespace, settings: Settings) -> int:
    async def run(session: AsyncSession) -> int:
        if args.action == "create":
            county = (
                await session.execute(select(County).where(County.admin_code == args.county))
            ).scalar_one_or_none()
            if county is None:
                print(f"patrol: no county with admin code {args.county}", file=sys.stderr)
                return 2
            if await session.scalar(select(User.id).where(User.username == args.username)):
                print(f"patrol: user {args.username} already exists", file=sys.stderr)
                return 2
            password = args.password or secrets.token_urlsafe(12)
            session.add(
                User(
                    county_id=county.id,
                    username=args.username,
                    display_name=args.display_name or args.username,
                    role=Role(args.role).value,
                    password_hash=hash_password(password),
                    active=True,
                )
            )
            await session.flush()
            print(f"created {args.username} ({args.role}); password: {password}")
            return 0
        user = (
            await session.execute(select(User).where(User.username == args.username))
        ).scalar_one_or_none()
        if user is None:
            print(f"patrol: no user {args.username}", file=sys.stderr)
            return 2
        if args.action == "disable":
            user.active = False
            print(f"disabled {args.username}")
        else:
            password = args.password or secrets.token_urlsafe(12)
            user.password_hash = hash_password(password)
            print(f"new password for {args.username}: {password}")
        return 0

    return await _with_session(settings, run)


# -- counties ------------------------------------------------------------------------------------
def _read_boundary(path: Path) -> Any:
    """The parsed GeoJSON of ``--boundary``, or a one-line reason it cannot be read."""
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInputError(
            f"无法读取边界文件 {path}：{exc.strerror}", code=codes.INVALID_BOUNDARY
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(
            f"边界文件 {path.name} 不是 GeoJSON：{exc}", code=codes.INVALID_BOUNDARY
        ) from exc


async def _counties(args: argparse.Namespace, settings: Settings) -> int:
    """Create or list counties: the platform operator's tool (it runs with database access)."""
    from geoalchemy2 import Geography  # noqa: PLC0415
    from sqlalchemy import Float, cast, func  # noqa: PLC0415

    from patrol.org import create_county, list_counties  # noqa: PLC0415

    def km2(county: County) -> Any:
        area = cast(func.ST_Area(cast(County.boundary, Geography)), Float) / 1e6
        return select(area).where(County.id == county.id)

    async def run(session: AsyncSession) -> int:
        if args.action == "create":
            county = await create_county(
                session, admin_code=args.code, name=args.name,
                boundary=_read_boundary(Path(args.boundary)), crs=args.crs,
                province_code=args.province,
            )  # fmt: skip
            area = await session.scalar(km2(county))
            print(f"created county {county.admin_code} {county.name} "
                  f"(province {county.province_code}), boundary {area:,.1f} km²")  # fmt: skip
            return 0
        counties = await list_counties(session)
        for county in counties:
            area = await session.scalar(km2(county))
            print(f"{county.admin_code:<12} {county.province_code}  {area:>10,.1f} km²  "
                  f"{county.name}")  # fmt: skip
        print(f"{len(counties)} county(ies)")
        return 0

    # a duplicate code or a bad boundary is a DomainError: main() prints it as one line and
    # exits 2, as for every failure the caller can fix
    return await _with_session(settings, run)


# -- layers --------------------------------------------------------------------------------------
async def _layers(args: argparse.Namespace, settings: Settings) -> int:
    # only this command draws or imports layers
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
    )

    from geofence import (  # noqa: PLC0415
        ImportProgress,
        InvalidGeometryError,
        NoFeaturesError,
        import_layer,
        parse_field_map,
    )

    console = Console()
    lang = _cli_lang(args)
    path = Path(args.file)
    field_map = parse_field_map(args.field_map)

    async def run(session: AsyncSession) -> int:
        county = await session.scalar(select(County).where(County.admin_code == args.county))
        if county is None:
            print(f"patrol: no county with admin code {args.county}", file=sys.stderr)
            return 2
        # The bar is drawn from the first progress report on and removed when the import
        # ends, so an error found before any feature is read leaves no empty bar behind.
        bar = Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            "stored {task.fields[stored]} · repaired {task.fields[repaired]} · "
            "rejected {task.fields[rejected]}", TimeElapsedColumn(), console=console,
            transient=True,
        )  # fmt: skip
        task = bar.add_task(f"importing {path.name}", total=None, stored=0, repaired=0,
                            rejected=0)  # fmt: skip
        drawn = False

        def show(p: ImportProgress) -> None:
            nonlocal drawn
            if not drawn:
                bar.start()
                drawn = True
            bar.update(task, completed=p.read, total=p.total, stored=p.stored,
                       repaired=p.repaired, rejected=p.rejected)  # fmt: skip

        try:
            summary = await import_layer(
                session, county.id, path, args.kind, crs=args.crs, field_map=field_map,
                layer=args.layer, encoding=args.encoding, preset=args.preset,
                dry_run=args.dry_run, source_name=path.name, progress=show,
            )  # fmt: skip
        except NoFeaturesError:
            msg = label("cli_import", "no_features", lang).format(name=path.name)
            print(f"patrol: no_features: {msg}", file=sys.stderr)
            return 2
        except InvalidGeometryError as exc:  # nothing storable: say why, feature by feature
            bar.stop()
            _print_import_failure(exc, lang)
            return 2
        finally:
            bar.stop()
        _print_import(console, summary, lang)
        return 0

    return await _with_session(settings, run)


def _cli_lang(args: argparse.Namespace) -> Lang:
    """``--lang``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): English for an
    ``en`` locale, Chinese for any other or none."""
    chosen = getattr(args, "lang", None)
    if chosen:
        return "en" if chosen == "en" else "zh"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return "en" if value.lower().startswith("en") else "zh"
    return DEFAULT_LANG


def _print_import(console: Console, summary: ImportSummary, lang: Lang) -> None:
    """The import summary: counts, layer and encoding, warnings, repairs and rejections."""
    from rich.table import Table  # noqa: PLC0415  (only this command draws tables)

    def word(key: str) -> str:
        return label("cli_import", key, lang)

    kind = label("layer_kind", summary.kind.value, lang)
    title = word("dry_run") if summary.dry_run else word("version").format(n=summary.version_no)
    table = Table(title=f"{kind} {title}")
    for column in ("format", "source_crs", "read", "stored", "repaired", "rejected"):
        table.add_column(word(column))
    counts = (summary.read, summary.stored, summary.repaired, summary.rejected)
    table.add_row(summary.source_format, summary.source_crs, *(f"{n:,}" for n in counts))
    console.print(table)
    if summary.source_layer or summary.encoding:
        layer, encoding = summary.source_layer or "-", summary.encoding or "-"
        console.print(f"  {word('layer')} {layer} · {word('encoding')} {encoding}")
    for warning in summary.warnings:
        console.print(f"  {word('warning')} {warning.code}: {warning.text(lang)}", markup=False)
    for key, issues in (
        ("repaired_feature", summary.repairs),
        ("rejected_feature", summary.rejections),
    ):
        for issue in issues[:20]:
            line = word(key).format(n=issue.feature_no, reason=issue.text(lang))
            console.print(f"  {line}", markup=False)
        if len(issues) > 20:
            console.print(f"  {word('more').format(n=len(issues) - 20)}")


def _print_import_failure(exc: DomainError, lang: Lang) -> None:
    from geofence import FeatureIssue  # noqa: PLC0415

    print(f"patrol: {exc.code}: {render(exc.code, lang, exc.extra, exc.detail)}", file=sys.stderr)
    for item in exc.extra.get("rejections", []):
        issue = FeatureIssue.from_json(item)
        line = label("cli_import", "rejected_feature", lang)
        print(f"  {line.format(n=issue.feature_no, reason=issue.text(lang))}", file=sys.stderr)
    for item in exc.extra.get("warnings", []):
        text = render(str(item["code"]), lang, item, str(item["detail"]))
        print(f"  {label('cli_import', 'warning', lang)}: {text}", file=sys.stderr)


# -- worker and audit ----------------------------------------------------------------------------
async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    """procrastinate's worker with every task until Ctrl-C (what the API runs in-process)."""
    import signal  # noqa: PLC0415

    from api.worker import run_background_worker  # noqa: PLC0415
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415

    engine = create_engine(settings.database.for_background_work())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # the jobs in hand finish, then it exits
        loop.add_signal_handler(signum, stop.set)
    concurrency = args.concurrency or settings.server.worker_concurrency
    print(f"Worker running ({concurrency} at a time). Press Ctrl-C to stop.", flush=True)
    try:
        await run_background_worker(
            settings,
            create_session_factory(engine),
            S3ObjectStore(settings.object_store),
            stop=stop,
            concurrency=concurrency,
        )
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await engine.dispose()
    return 0


def _time(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


async def _jobs(args: argparse.Namespace, settings: Settings) -> int:
    """``patrol jobs list`` / ``patrol jobs retry ID``: every county's jobs (the operator)."""
    from infra.tasks import list_jobs, retry_job  # noqa: PLC0415

    async def run(session: AsyncSession) -> int:
        if args.action == "retry":
            if not await retry_job(session, args.job_id):
                print(f"patrol: no failed job with id {args.job_id}", file=sys.stderr)
                return 2
            print(f"job {args.job_id} queued again")
            return 0
        jobs = await list_jobs(session, None, state=args.state, task=args.task, limit=args.limit)
        for job in jobs:
            print(
                f"{job.id:>8}  {job.task:<24} {job.state:<10} attempts {job.attempts}  "
                f"queued {_time(job.queued_at)}  started {_time(job.started_at)}  "
                f"finished {_time(job.finished_at)}"
            )
            if job.last_error and job.state != "succeeded":
                print(f"          last error: {' '.join(job.last_error.split())[:500]}")
        print(f"{len(jobs)} job(s)")
        return 0

    return await _with_session(settings, run)


async def _audit(args: argparse.Namespace, settings: Settings) -> int:
    """Walk every county's custody chain (or one county's); exit 1 on any problem."""
    from evidence import CustodyLog  # noqa: PLC0415

    async def run(session: AsyncSession) -> int:
        stmt = select(County).order_by(County.admin_code)
        if args.county:
            stmt = stmt.where(County.admin_code == args.county)
        counties = list((await session.execute(stmt)).scalars().all())
        if args.county and not counties:
            print(f"patrol: no county with admin code {args.county}", file=sys.stderr)
            return 2
        log = CustodyLog(settings.evidence.package_signing_key.encode())
        bad = 0
        for county in counties:
            report = await log.verify(session, county.id)
            state = "ok" if report.ok else f"{len(report.problems)} problem(s)"
            print(f"{county.admin_code} {county.name}: {report.entries} entries, head "
                  f"{report.head_seq} {report.head_hash[:16]}, {state}")  # fmt: skip
            for problem in report.problems:
                print(f"  seq {problem.seq}: {problem.problem}")
            bad += 0 if report.ok else 1
        print(f"{len(counties)} chain(s) checked, {bad} with problems")
        return 1 if bad else 0

    return await _with_session(settings, run)


# -- serve ---------------------------------------------------------------------------------------
async def _prepare(settings: Settings, *, demo: bool) -> list[DemoUser]:
    engine = create_engine(settings.database.for_background_work())
    try:
        await Migrator(engine, MODEL_MODULES).upgrade()
    finally:
        await engine.dispose()
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415

    await S3ObjectStore(settings.object_store).ensure_bucket()
    return await seed_demo(settings) if demo else []


# The banner waits for the first lines after start (the worker's first round) to pass, so that
# the address and the logins are the last lines on the terminal; it never waits longer than this.
_BANNER_QUIET_S = 1.0
_BANNER_MAX_WAIT_S = 15.0


async def _serve_with_banner(server: uvicorn.Server, banner: str, sock: socket.socket) -> None:
    async def announce() -> None:
        waited = 0.0  # uvicorn has no "started" event: look every 50 ms
        while True:
            await asyncio.sleep(0.05)
            if not server.started:
                continue
            waited += 0.05
            if seconds_since_last_line() >= _BANNER_QUIET_S or waited >= _BANNER_MAX_WAIT_S:
                break
        print(banner, file=sys.stderr, flush=True)

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()


def _listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, taken before anything starts: a busy port stops the
    command here, with nothing started, rather than after migrations and the worker."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        msg = f"cannot listen on {host}:{port}: {exc.strerror} (PATROL_HOST or --host)"
        raise LauncherError(msg) from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        msg = f"port {port} on {host} is already in use; set PATROL_PORT or --port to a free port"
        if exc.errno != errno.EADDRINUSE:
            msg = f"cannot listen on {host}:{port}: {exc.strerror} (PATROL_HOST or --host)"
        raise LauncherError(msg) from exc
    sock.set_inheritable(True)
    return sock


def _serve(args: argparse.Namespace, settings: Settings, sock: socket.socket) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from api.app import create_app  # noqa: PLC0415

    host, port = sock.getsockname()[:2]
    seeded = asyncio.run(_prepare(settings, demo=not args.no_demo))
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    store = settings.object_store
    uploads = store.public_url or store.endpoint_url
    if not store.public_url and urlsplit(uploads).hostname in {"127.0.0.1", "localhost", "::1"}:
        uploads += " (this machine only: phones need S3_PUBLIC_URL)"
    # Logs are JSON on stdout; this block is for the person at the terminal, on stderr, once
    # the server listens. Passwords only on an interactive terminal: a redirected stderr
    # (journald, CI, docker logs) keeps them out of stored logs and points at the file.
    banner = [
        "",
        "Press Ctrl-C to stop.",
        f"  API docs:  {base}/schema   Swagger: {base}/schema/swagger",
        f"  Health:    {base}/health   Readiness: {base}/ready",
        f"  Uploads:   {uploads}",
        f"Serving on {base}",
        *demo_logins(settings, seeded, passwords=sys.stderr.isatty()),
    ]
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    with (
        contextlib.suppress(KeyboardInterrupt),  # Ctrl-C is how the server is stopped
        asyncio.Runner(loop_factory=config.get_loop_factory()) as runner,
    ):
        runner.run(_serve_with_banner(server, "\n".join(banner), sock))
    if not server.started:
        print("patrol: the API did not start; the log above says why", file=sys.stderr)
        return 1
    return 0


# -- package -------------------------------------------------------------------------------------
def package_signing_key(settings: Settings) -> str:
    """The key the server signs packages with, found without starting any service.

    ``PATROL_PACKAGE_SIGNING_KEY``, else ``PATROL_SECRET_KEY`` (both in ``settings``), else
    the secret the embedded runner generated into ``<data dir>/secret-key``; empty when none.
    """
    if settings.evidence.package_signing_key:
        return settings.evidence.package_signing_key
    if settings.auth.secret_key:
        return settings.auth.secret_key
    path = settings.data_dir / "secret-key"
    return path.read_text().strip() if path.is_file() else ""


def _public_keys(args: argparse.Namespace, settings: Settings) -> list[PublicKey]:
    """The keys ``--public-key`` names, else this server's published ones (none made)."""
    from evidence.cases.package_keys import PackageKeyring, load_public_keys  # noqa: PLC0415

    if not args.public_key:
        return PackageKeyring.from_settings(settings).public_keys(create=False)
    keys: list[PublicKey] = []
    for name in args.public_key:
        try:
            keys += load_public_keys(name)
        except (OSError, ValueError) as exc:
            msg = f"--public-key {name}: {exc}"
            raise InvalidInputError(msg) from exc
    return keys


def _package_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check a package file; print every problem; exit 1 on any (no database, no S3).

    Ed25519 packages are checked with ``--public-key`` (a PEM file, or the JSON answer of
    ``GetSigningKeys``), else with this server's published keys; packages of format 1
    (HMAC) with ``--hmac-key-file``, else the server's secret."""
    from evidence.cases.package import verify_package  # noqa: PLC0415

    hmac_key = package_signing_key(settings)
    if args.hmac_key_file:
        try:
            hmac_key = Path(args.hmac_key_file).read_text("utf-8").strip()
        except OSError as exc:
            msg = f"--hmac-key-file: {exc}"
            raise InvalidInputError(msg) from exc
    keys = _public_keys(args, settings)
    report = verify_package(Path(args.file), public_keys=keys, hmac_key=hmac_key)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _key_lines(key: PublicKey) -> list[str]:
    created = key.created_at.isoformat(timespec="seconds") if key.created_at else "?"
    mark = " (current)" if key.current else ""
    return [
        f"key {key.key_id}{mark}: {key.algorithm}, created {created}",
        f"  SHA-256 fingerprint {key.fingerprint}",
    ]


def _package_keygen(settings: Settings) -> int:
    """Make a new current package key; the old public keys stay published."""
    from evidence.cases.package_keys import PackageKeyring  # noqa: PLC0415

    keyring = PackageKeyring.from_settings(settings)
    key = keyring.rotate()
    print("\n".join(_key_lines(key)))
    print(f"public keys: {keyring.directory / 'public-keys.json'}")
    print(key.public_key_pem, end="")
    return 0


def _package_keys(args: argparse.Namespace, settings: Settings) -> int:
    """The published package keys (``--json``: as ``GetSigningKeys`` answers)."""
    from evidence.cases.package_keys import PackageKeyring  # noqa: PLC0415

    keys = PackageKeyring.from_settings(settings).public_keys(create=False)
    if args.json:
        listing = [{**k.to_json(), "current": k.current} for k in keys]
        print(json.dumps({"keys": listing}, ensure_ascii=False, indent=1))
        return 0
    for key in keys:
        print("\n".join(_key_lines(key)))
    if not keys:
        print("no package key yet: one is made with the first package, or by keygen")
    return 0


async def _package_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export a case's package as ``--username`` (captain, admin or squad) to ``--out``."""
    from evidence.cases.package import ReferralPackage, export_referral_package  # noqa: PLC0415
    from evidence.cases.package_keys import PackageKeyring  # noqa: PLC0415
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415
    from patrol.accounts import principal_of  # noqa: PLC0415

    out = Path(args.out)

    async def run(session: AsyncSession) -> ReferralPackage | None:
        user = await session.scalar(select(User).where(User.username == args.username))
        if user is None or not user.active:
            print(f"patrol: no active user {args.username}", file=sys.stderr)
            return None
        return await export_referral_package(
            session,
            principal_of(user),
            args.case_id,
            store=S3ObjectStore(settings.object_store),
            custody_key=settings.evidence.package_signing_key,
            keys=PackageKeyring.from_settings(settings),
        )

    engine = create_engine(settings.database.for_background_work())
    try:
        async with create_session_factory(engine)() as session:
            package = await run(session)
            await session.commit()  # the export is in the custody log before a byte is written
    finally:
        await engine.dispose()
    if package is None:
        return 2
    try:
        size = await package.save(out)
    except BaseException:
        await asyncio.to_thread(out.unlink, missing_ok=True)
        raise
    print(f"wrote {out} ({size:,} bytes): package {package.package_id}, case {package.case_no}")
    print(f"evidence: {package.evidence_count}, manifest SHA-256 {package.manifest_sha256}")
    return 0


# -- contract ------------------------------------------------------------------------------------
CONTRACT_FILE = Path(__file__).resolve().parents[1] / "mobile_contract" / "v1" / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, built without touching any service."""
    from api.app import create_app  # noqa: PLC0415

    base = Settings()
    offline = replace(
        base,
        database=replace(base.database, url="postgresql+asyncpg://offline@127.0.0.1:9/offline"),
        object_store=replace(base.object_store, endpoint_url="http://127.0.0.1:9"),
        auth=replace(base.auth, secret_key="o" * 32),
    )
    return create_app(offline).openapi_schema.to_schema()


def _contract(args: argparse.Namespace) -> int:
    from mobile_contract.compat import breaking_changes  # noqa: PLC0415

    current = openapi_document()
    if args.action == "dump":
        CONTRACT_FILE.write_text(
            json.dumps(current, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        )
        print(f"wrote {CONTRACT_FILE}")
        return 0
    problems = breaking_changes(json.loads(CONTRACT_FILE.read_text()), current)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} breaking change(s)")
    return 1 if problems else 0


# -- errors --------------------------------------------------------------------------------------
def _errors(args: argparse.Namespace) -> int:
    """The error catalogue: README.md's table (``--markdown``, the default) or JSON."""
    from infra.error_codes import CATALOGUE, markdown_table  # noqa: PLC0415

    if args.json:
        rows = [
            {
                "code": e.code,
                "status": e.status,
                "statuses": list(e.statuses),
                "title": {"zh": e.zh_title, "en": e.en_title},
                "message": {"zh": e.zh, "en": e.en},
            }
            for e in CATALOGUE.values()
        ]
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        print(markdown_table(), end="")
    return 0


# -- entry point ---------------------------------------------------------------------------------
def _add_layer_import(lsub: Any) -> None:
    limport = lsub.add_parser(
        "import",
        help="import a GeoJSON, zipped Shapefile, GeoPackage or zipped File Geodatabase (.gdb)",
    )
    limport.add_argument("file", help="the file to import")
    limport.add_argument("--county", required=True, help="county admin code, e.g. 430999")
    limport.add_argument(
        "--kind", required=True,
        choices=["parcels", "planning_zones", "mine_sites", "change_polygons"],
    )  # fmt: skip
    limport.add_argument(
        "--crs",
        help="source CRS override, e.g. EPSG:4527, cgcs2000, gcj02 (Amap, Tencent, DataV), "
        "bd09 (Baidu) (default: from the file, else detected)",
    )
    limport.add_argument("--field-map", help="target=source,... e.g. source_code=DLBM")
    limport.add_argument("--layer", help="the layer of a GeoPackage or File Geodatabase")
    limport.add_argument(
        "--encoding",
        help="a Shapefile's text encoding, e.g. gbk, utf-8 (default: .cpg, else detected)",
    )
    limport.add_argument(
        "--preset", choices=["land_survey"],
        help="field map preset: land_survey = layer DLTB with DLBM, DLMC, TBMJ",
    )  # fmt: skip
    limport.add_argument(
        "--dry-run", action="store_true",
        help="read and check the file, report counts and rejections, store nothing",
    )  # fmt: skip
    limport.add_argument(
        "--lang", choices=["zh", "en"],
        help="language of the report (default: en for an English LANG, else zh)",
    )  # fmt: skip


def _add_jobs(sub: Any) -> None:
    from infra.tasks import JOB_STATES  # noqa: PLC0415

    jobs = sub.add_parser("jobs", help="background jobs: what is queued, running, failed")
    jsub = jobs.add_subparsers(dest="action", required=True)
    jlist = jsub.add_parser("list", help="jobs, newest first, with their last error")
    jlist.add_argument("--state", choices=JOB_STATES, help="only jobs in this state")
    jlist.add_argument("--task", help="only this task, e.g. evidence:derivatives")
    jlist.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    retry = jsub.add_parser("retry", help="queue a failed job again now")
    retry.add_argument("job_id", type=int, help="the job id (patrol jobs list)")


def _add_counties(sub: Any) -> None:
    counties = sub.add_parser("counties", help="counties (tenants): the platform operator's tool")
    csub = counties.add_subparsers(dest="action", required=True)
    create = csub.add_parser("create", help="create a county with its boundary")
    create.add_argument("code", help="county admin code (6 digits), e.g. 430999")
    create.add_argument("name", help="county name, e.g. 演示县")
    create.add_argument(
        "--boundary", required=True,
        help="GeoJSON Polygon/MultiPolygon, or a Feature or FeatureCollection of one feature",
    )  # fmt: skip
    create.add_argument("--province", help="province code (default: first two digits of CODE)")
    create.add_argument(
        "--crs",
        help="the boundary's CRS, e.g. EPSG:4527, cgcs2000, gcj02, bd09 (default: WGS84)",
    )
    csub.add_parser("list", help="list every county")


def _add_package(sub: Any) -> None:
    package = sub.add_parser("package", help="evidence packages for criminal referrals")
    psub = package.add_subparsers(dest="action", required=True)
    pverify = psub.add_parser("verify", help="check a package; exit 1 on any problem")
    pverify.add_argument("file", help="the package ZIP")
    pverify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="a PEM public key, or the JSON of GetSigningKeys (repeatable); "
        "default: this server's published keys",
    )
    pverify.add_argument(
        "--hmac-key-file",
        metavar="FILE",
        help="the secret of packages signed with HMAC (format 1); default: the server's",
    )
    psub.add_parser("keygen", help="make a new current package signing key (rotate)")
    pkeys = psub.add_parser("keys", help="list the published package signing keys")
    pkeys.add_argument("--json", action="store_true", help="as GetSigningKeys answers")
    pexport = psub.add_parser("export", help="export a case's package (logged in custody)")
    pexport.add_argument("case_id", type=uuid.UUID, help="the case id")
    pexport.add_argument("--out", required=True, help="where to write the ZIP")
    pexport.add_argument("--username", required=True, help="act as this captain or admin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patrol", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (embedded services when unconfigured)")
    serve.add_argument("--host", help="bind address (default PATROL_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PATROL_PORT or 8000)")
    serve.add_argument("--no-demo", action="store_true", help="do not seed the demo county")

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", help="target (upgrade: heads; downgrade: -1)")

    demo = sub.add_parser("demo", help="demo data")
    demo.add_argument("action", choices=["seed"])

    errors = sub.add_parser(
        "errors", help="the error catalogue: every code with its status and messages"
    )
    errors_format = errors.add_mutually_exclusive_group()
    errors_format.add_argument(
        "--markdown", action="store_true", help="README.md's table, with its markers (default)"
    )
    errors_format.add_argument("--json", action="store_true", help="one object per code")

    contract = sub.add_parser("contract", help="the committed v1 wire contract")
    contract.add_argument(
        "action",
        choices=["check", "dump"],
        help="check: list breaking changes; dump: rewrite v1/openapi.json",
    )

    layers = sub.add_parser("layers", help="reference layers")
    _add_layer_import(layers.add_subparsers(dest="action", required=True))

    worker = sub.add_parser(
        "worker", help="run background jobs (derivatives, periodic chores) until Ctrl-C"
    )
    worker.add_argument(
        "--concurrency", type=int, default=0,
        help="jobs run at once (default PATROL_WORKER_CONCURRENCY or 2)",
    )  # fmt: skip
    _add_jobs(sub)
    audit = sub.add_parser("audit", help="the evidence custody log")
    asub = audit.add_subparsers(dest="action", required=True)
    verify = asub.add_parser("verify", help="verify the hash chains; exit 1 on any problem")
    verify.add_argument("--county", help="county admin code (default: every county)")

    _add_counties(sub)
    users = sub.add_parser("users", help="user accounts")
    usub = users.add_subparsers(dest="action", required=True)
    create = usub.add_parser("create", help="create a user")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--county", required=True, help="county admin code, e.g. 430999")
    create.add_argument("--display-name")
    create.add_argument("--password", help="default: generated and printed")
    disable = usub.add_parser("disable", help="disable a user")
    disable.add_argument("username")
    reset = usub.add_parser("reset-password", help="set a new password")
    reset.add_argument("username")
    reset.add_argument("--password", help="default: generated and printed")
    _add_package(sub)
    return parser


_ASYNC: dict[str, Handler] = {
    "counties": _counties,
    "db": _db,
    "demo": _demo,
    "layers": _layers,
    "users": _users,
    "worker": _worker,
    "jobs": _jobs,
    "audit": _audit,
}


#: Commands that read and write the database only: the embedded object store is neither
#: started nor looked for for them (it needs a port, and may be another process's).
_DATABASE_ONLY = frozenset({"jobs"})
_NO_STORE = "http://127.0.0.1:9"  # never contacted: the command does not touch the store


def _offline(args: argparse.Namespace, settings: Settings) -> int | None:
    """Commands that need neither the database nor S3 (no service is started for them)."""
    if args.command == "contract":
        return _contract(args)
    if args.command == "errors":
        return _errors(args)
    if args.command == "package" and args.action == "verify":
        return _package_verify(args, settings)
    if args.command == "package" and args.action == "keygen":
        return _package_keygen(settings)
    if args.command == "package" and args.action == "keys":
        return _package_keys(args, settings)
    return None


def _one_line(exc: BaseException) -> str:
    """The first line of what went wrong, without the statement or its parameters (a
    database error's text carries both: a password hash must never reach the terminal)."""
    origin = getattr(exc, "orig", None) if isinstance(exc, sa_exc.StatementError) else None
    text = str(origin if origin is not None else exc).strip()
    if text.startswith("<class '") and ">: " in text:  # asyncpg through SQLAlchemy's adapter
        text = text.split(">: ", 1)[1]
    first = text.splitlines()[0] if text else ""
    return f"{type(origin or exc).__name__}: {first[:300]}" if first else type(exc).__name__


def _domain_line(error: DomainError) -> str:
    """``patrol: code: detail`` on one line, whatever the detail holds."""
    return " ".join(f"patrol: {error.code}: {error.detail}".split())


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings.server.log_level)
    offline = _offline(args, settings)
    if offline is not None:
        return offline
    if args.command in _DATABASE_ONLY and settings.object_store.embedded:
        settings = replace(
            settings, object_store=replace(settings.object_store, endpoint_url=_NO_STORE)
        )
    sock: socket.socket | None = None
    if args.command == "serve":
        host, port = args.host or settings.server.host, args.port or settings.server.port
        store = settings.object_store
        if store.embedded and port == store.embedded_port:
            msg = f"PATROL_PORT and PATROL_S3_PORT must differ (both are {port})"
            raise SettingsError(msg)
        sock = _listen(host, port)
    try:
        with embedded_services(settings) as full:
            full.validate()
            if sock is not None:
                return _serve(args, full, sock)
            handler = _package_export if args.command == "package" else _ASYNC[args.command]
            return asyncio.run(handler(args, full))
    finally:
        if sock is not None:
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every failure is one line on stderr and an exit code: 2 for what the
    caller can fix (configuration, input, a busy port, a name already taken), 69 when the
    database or object store cannot be reached, 70 for anything unexpected."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (LauncherError, SettingsError) as exc:
        print(f"patrol: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every failure ends as one line, never a traceback
        domain = exc if isinstance(exc, DomainError) else database_unavailable(exc)
        if domain is not None:
            print(_domain_line(domain), file=sys.stderr)
            return _EX_UNAVAILABLE if isinstance(domain, UnavailableError) else 2
        print(f"patrol: unexpected error: {_one_line(exc)}", file=sys.stderr)
        return _EX_SOFTWARE
