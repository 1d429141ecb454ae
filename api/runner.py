"""The embedded default: bring up what is missing, hand back settings, stop it all at the end.

With no ``DATABASE_URL`` a project-owned PostGIS cluster runs under ``<data dir>/postgres``;
with no ``S3_ENDPOINT_URL`` an ``rclone serve s3`` serves ``<data dir>/objects`` on
``PATROL_S3_HOST:PATROL_S3_PORT`` (the same port at every start, so presigned URLs and
``S3_PUBLIC_URL`` stay valid; a port another program holds is refused by name); with no
``PATROL_SECRET_KEY`` a key is generated once into ``<data dir>/secret-key`` (mode 600).
Services another ``patrol`` process already runs on the same data are reused, not restarted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import structlog

from infra.launchers import LauncherError, PostgisCluster, RcloneS3, port_in_use
from infra.settings import Settings

__all__ = ["embedded_services"]

log = structlog.get_logger(__name__)


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@contextlib.contextmanager
def embedded_services(settings: Settings) -> Iterator[Settings]:
    """Settings completed with whatever embedded services were needed and started."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)  # the cluster runs as an unprivileged user when we are root
    started: list[PostgisCluster | RcloneS3] = []
    store = settings.object_store
    rclone: RcloneS3 | None = None
    if store.embedded:  # a busy S3 port is refused before the database is started
        rclone = RcloneS3(data_dir / "objects", bucket=store.bucket, host=store.embedded_host)
        if store.public_url and store.embedded_host in {"127.0.0.1", "localhost", "::1"}:
            log.warning(
                "embedded.s3_loopback_only",
                public_url=store.public_url,
                hint="set PATROL_S3_HOST=0.0.0.0 so other machines reach the store",
            )
        if rclone.attach(port=store.embedded_port):
            log.debug("embedded.s3_attached", endpoint=rclone.endpoint_url)
        elif store.embedded_port and port_in_use(store.embedded_host, store.embedded_port):
            msg = (
                f"port {store.embedded_port} on {store.embedded_host} is already in use; "
                "set PATROL_S3_PORT to a free port"
            )
            raise LauncherError(msg)
    try:
        if settings.database.embedded:
            cluster = PostgisCluster(data_dir / "postgres")
            if not cluster.attach():
                cluster.init()
                cluster.start()
                started.append(cluster)
                log.info("embedded.postgres_started", port=cluster.port)
            settings = replace(settings, database=replace(settings.database, url=cluster.url))
        if rclone is not None:
            if not rclone.port:
                rclone.start(port=store.embedded_port, port_setting="PATROL_S3_PORT")
                started.append(rclone)
                log.info(
                    "embedded.s3_started",
                    endpoint=rclone.endpoint_url,
                    public_url=store.public_url or rclone.endpoint_url,
                )
            settings = replace(
                settings,
                object_store=replace(
                    store,
                    endpoint_url=rclone.endpoint_url,
                    access_key_id=rclone.access_key,
                    secret_access_key=rclone.secret_key,
                ),
            )
        if not settings.auth.secret_key:
            settings = replace(
                settings, auth=replace(settings.auth, secret_key=_secret_key(data_dir))
            )
        if not settings.evidence.package_signing_key:
            settings = replace(
                settings,
                evidence=replace(settings.evidence, package_signing_key=settings.auth.secret_key),
            )
        yield settings
    finally:
        for service in reversed(started):
            service.stop()
