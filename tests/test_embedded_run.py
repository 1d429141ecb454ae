"""`patrol serve` with nothing configured: embedded PostGIS + S3, demo data, clean Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from infra.launchers import free_port


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"patrol serve exited with {proc.returncode}:\n{out[-4000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready within {timeout_s} s")


def _start(data_dir: Path, port: int, s3_port: int) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "S3_", "PATROL_"))
    }
    # the store's port is fixed by default; a free one here lets test runs share the machine
    env.update(PATROL_DATA_DIR=str(data_dir), PATROL_PORT=str(port), PATROL_S3_PORT=str(s3_port))
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "patrol"), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out.decode(errors="replace")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_embedded_twice() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="patrol-run-"))
    data_dir.chmod(0o755)
    port, s3_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port, s3_port)
    try:
        _wait_ready(base, proc, timeout_s=240)
        users_file = data_dir / "demo-users.json"
        assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
        users = json.loads(users_file.read_text())
        assert {u["role"] for u in users} == {
            "inspector",
            "joint_team",
            "captain",
            "security_squad",
            "admin",
        }
        for user in users:
            resp = httpx.post(
                f"{base}/api/v1/auth/token",
                json={"username": user["username"], "password": user["password"]},
            )
            assert resp.status_code == 200, resp.text
        assert httpx.get(f"{base}/schema/openapi.json").status_code == 200
    finally:
        first_output = _stop(proc)
    assert proc.returncode == 0, first_output
    assert "/schema" in first_output
    s3 = json.loads((data_dir / "objects-s3.json").read_text())
    assert int(s3["port"]) == s3_port
    assert not _port_open(s3_port), "rclone still running after Ctrl-C"
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()

    proc = _start(data_dir, port, s3_port)
    try:
        seconds = _wait_ready(base, proc, timeout_s=60)
        assert seconds < 20
        users = json.loads((data_dir / "demo-users.json").read_text())
        resp = httpx.post(
            f"{base}/api/v1/auth/token",
            json={"username": users[0]["username"], "password": users[0]["password"]},
        )
        assert resp.status_code == 200
    finally:
        second_output = _stop(proc)
    assert "Demo county seeded" not in second_output
    assert int(json.loads((data_dir / "objects-s3.json").read_text())["port"]) == s3_port
    shutil.rmtree(data_dir, ignore_errors=True)
