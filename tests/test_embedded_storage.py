"""The embedded ``rclone serve s3`` as phones need it: one port at every start, presigned URLs
for the address phones reach it at, and its keys out of the process list."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from api.runner import embedded_services
from infra.launchers import LauncherError, LocalServices, free_port
from infra.objectstore import S3ObjectStore, md5_b64
from infra.settings import (
    EMBEDDED_S3_PORT,
    AuthSettings,
    DatabaseSettings,
    ObjectStoreSettings,
    Settings,
    SettingsError,
)


def _settings(services: LocalServices, data_dir: Path, port: int, public_url: str) -> Settings:
    """The embedded object store only: the database is the session's."""
    return Settings(
        data_dir=data_dir,
        database=DatabaseSettings(url=services.database_url),
        object_store=ObjectStoreSettings(embedded_port=port, public_url=public_url),
        auth=AuthSettings(secret_key="k" * 48),
    )


def _rclone_argv(data_dir: Path) -> bytes:
    """The command line of the rclone started for ``data_dir``, as ``ps`` shows it."""
    pid = int(json.loads((data_dir / "objects-s3.json").read_text())["pid"])
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_presigned_upload_through_the_public_address_on_a_stable_port(
    services: LocalServices, tmp_path: Path
) -> None:
    port = free_port()
    # localhost and 127.0.0.1 reach the same server, as a LAN address and loopback do
    settings = _settings(services, tmp_path, port, f"http://localhost:{port}")
    data = b"a photo from the field"
    with embedded_services(settings) as full:
        store_settings = full.object_store
        assert store_settings.endpoint_url == f"http://127.0.0.1:{port}"
        argv = _rclone_argv(tmp_path)
        assert store_settings.secret_access_key.encode() not in argv
        assert store_settings.access_key_id.encode() not in argv
        store = S3ObjectStore(store_settings)
        await store.ensure_bucket()
        put = store.presign_put("originals/phone.jpg", content_md5=md5_b64(data),
                                content_type="image/jpeg")  # fmt: skip
        url = urlsplit(put.url)
        assert (url.hostname, url.port) == ("localhost", port)
        async with httpx.AsyncClient() as client:
            # signed for the public host: the same URL sent to another host is refused
            internal = urlunsplit(url._replace(netloc=f"127.0.0.1:{port}"))
            refused = await client.put(internal, content=data, headers=put.headers)
            assert refused.status_code == 403, refused.text
            resp = await client.put(put.url, content=data, headers=put.headers)
            assert resp.status_code == 200, resp.text
            got = await client.get(store.presign_get("originals/phone.jpg").url)
            assert got.content == data
        # the server itself keeps talking to the internal endpoint
        assert await store.read_range("originals/phone.jpg", 0, len(data)) == data
        # the store refuses requests without the keys it was given through its environment
        wrong = S3ObjectStore(
            ObjectStoreSettings(endpoint_url=store_settings.endpoint_url,
                                bucket=store_settings.bucket, access_key_id="patrol",
                                secret_access_key="guessed"), max_attempts=1,
        )  # fmt: skip
        assert not await wrong.ping()
        later = store.presign_put("originals/later.jpg", content_md5=md5_b64(data),
                                  content_type="image/jpeg")  # fmt: skip
    assert not _port_open(port)

    with embedded_services(settings) as again:  # a second start: the same port, same keys
        assert again.object_store.endpoint_url == f"http://127.0.0.1:{port}"
        assert again.object_store.secret_access_key == store_settings.secret_access_key
        store = S3ObjectStore(again.object_store)
        assert await store.read_range("originals/phone.jpg", 0, len(data)) == data
        # a URL a phone was given before the restart still reaches the store and is valid
        async with httpx.AsyncClient() as client:
            resp = await client.put(later.url, content=data, headers=later.headers)
        assert resp.status_code == 200, resp.text
        assert await store.exists("originals/later.jpg")
    assert not _port_open(port)


def test_a_busy_store_port_is_refused_by_its_setting(
    services: LocalServices, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with (
            pytest.raises(LauncherError, match=f"port {port} .*PATROL_S3_PORT"),
            embedded_services(_settings(services, tmp_path, port, "")),
        ):
            pass
    assert not (tmp_path / "objects-s3.json").exists()


def test_store_settings_are_read_and_checked() -> None:
    default = Settings.from_env({})
    assert default.object_store.embedded_port == EMBEDDED_S3_PORT
    assert default.object_store.public_url == ""
    env = {
        "PATROL_S3_PORT": "9123",
        "PATROL_S3_HOST": "192.168.1.10",
        "S3_PUBLIC_URL": "http://192.168.1.10:9123/",
    }
    store = Settings.from_env(env).object_store
    assert (store.embedded_port, store.embedded_host) == (9123, "192.168.1.10")
    assert store.public_url == "http://192.168.1.10:9123"
    assert Settings.from_env({"PATROL_S3_PORT": "0"}).object_store.embedded_port == 0
    for name, value in (
        ("PATROL_S3_PORT", "abc"),
        ("PATROL_S3_PORT", "70000"),
        ("PATROL_PORT", "0"),
        ("S3_PUBLIC_URL", "192.168.1.10:9123"),
        ("S3_PUBLIC_URL", "ftp://192.168.1.10"),
        ("S3_PUBLIC_URL", "http://192.168.1.10:9123/bucket"),
        ("S3_PUBLIC_URL", "http://192.168.1.10:port"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
