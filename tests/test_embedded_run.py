"""`patrol serve` with nothing configured: embedded PostGIS + S3, demo data, clean Ctrl-C, and
one JSON log stream with the address and demo logins printed last."""

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
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from infra.launchers import free_port


class _Output:
    """The lines of a running ``patrol serve`` (stdout and stderr), read as they come."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._stream = proc.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in self._stream:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_for(self, found: Callable[[str], bool], timeout_s: float = 60) -> int:
        """Index of the first line ``found`` accepts, waiting for it to be printed."""
        started = time.monotonic()
        seen = 0
        while time.monotonic() - started < timeout_s:
            for i in range(seen, len(self.lines)):
                if found(self.lines[i]):
                    return i
            seen = len(self.lines)
            time.sleep(0.1)
        raise AssertionError(f"not printed within {timeout_s} s; last lines: {self.lines[-5:]}")

    def text(self) -> str:
        self._thread.join(timeout=30)
        self._stream.close()
        return "\n".join(self.lines)


def _wait_ready(
    base: str, proc: subprocess.Popen[bytes], output: _Output, timeout_s: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            out = output.text()
            raise AssertionError(f"patrol serve exited with {proc.returncode}:\n{out[-4000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready within {timeout_s} s")


def _json(line: str) -> dict[str, object] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _request_line(request_id: str) -> Callable[[str], bool]:
    def found(line: str) -> bool:
        record = _json(line)
        return bool(record and record.get("request_id") == request_id and
                    record.get("event") == "http.request")  # fmt: skip

    return found


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


def _stop(proc: subprocess.Popen[bytes], output: _Output) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return output.text()


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
    output = _Output(proc)
    try:
        _wait_ready(base, proc, output, timeout_s=240)
        users_file = data_dir / "demo-users.json"
        assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
        users = json.loads(users_file.read_text())
        assert {u["role"] for u in users} == {
            "inspector",
            "joint_team",
            "captain",
            "security_squad",
            "admin",
            "clue_desk",
            "procuratorate",
        }
        for user in users:
            resp = httpx.post(
                f"{base}/api/v1/auth/token",
                json={"username": user["username"], "password": user["password"]},
            )
            assert resp.status_code == 200, resp.text
        assert httpx.get(f"{base}/schema/openapi.json").status_code == 200
        _check_log_stream(base, output, users, data_dir / "demo-users.json")
    finally:
        first_output = _stop(proc, output)
    assert proc.returncode == 0, first_output
    assert "/schema" in first_output
    s3 = json.loads((data_dir / "objects-s3.json").read_text())
    assert int(s3["port"]) == s3_port
    assert not _port_open(s3_port), "rclone still running after Ctrl-C"
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()

    proc = _start(data_dir, port, s3_port)
    output = _Output(proc)
    try:
        _wait_ready(base, proc, output, timeout_s=60)
        users = json.loads((data_dir / "demo-users.json").read_text())
        resp = httpx.post(
            f"{base}/api/v1/auth/token",
            json={"username": users[0]["username"], "password": users[0]["password"]},
        )
        assert resp.status_code == 200
    finally:
        second_output = _stop(proc, output)
    # a second start only opens what is there: no demo seeded again (its time is not asserted)
    assert "Demo county seeded" not in second_output
    assert '"demo.seeded"' not in second_output
    assert int(json.loads((data_dir / "objects-s3.json").read_text())["port"]) == s3_port
    shutil.rmtree(data_dir, ignore_errors=True)


def _check_log_stream(
    base: str, output: _Output, users: list[dict[str, str]], users_file: Path
) -> None:
    """Every line is JSON (uvicorn's and alembic's too) except the block that names the address
    and the demo logins, which comes after start-up; readiness calls write nothing; the lines of
    a request carry its id; no password reaches the output when it is not a terminal."""
    # The seed is summarised: one line with the counts instead of a line per patrol and photo.
    output.wait_for(lambda line: '"demo.seeded"' in line)
    banner_at = output.wait_for(lambda line: line.startswith("Serving on "))
    # the block goes on after that line with the demo logins: wait for all of them to be read
    for user in users:
        output.wait_for(lambda line, name=user["username"]: line.split()[-1:] == [name])
    # three readiness checks, then a request whose access line marks the place in the stream
    before = len(output.lines)
    for _ in range(3):
        assert httpx.get(f"{base}/ready").status_code == 200
    httpx.get(f"{base}/api/v1/me", headers={"X-Request-ID": "after-ready-checks"})
    marker = output.wait_for(_request_line("after-ready-checks"))
    assert output.lines[before:marker] == [], "readiness checks wrote log lines"
    # a failed login logs from the domain inside the request: that line has the request id too
    resp = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": users[0]["username"], "password": "not-the-password"},
        headers={"X-Request-ID": "failed-login-check"},
    )
    assert resp.status_code == 401, resp.text
    output.wait_for(_request_line("failed-login-check"))
    tagged = [
        r for r in map(_json, output.lines) if r and r.get("request_id") == "failed-login-check"
    ]
    assert {r["event"] for r in tagged} >= {"auth.login_failed", "http.request"}

    lines = [line for line in output.lines if line.strip()]
    records = [_json(line) for line in lines]
    block = [i for i, r in enumerate(records) if r is None]
    assert block, "no banner"
    assert block == list(range(block[0], block[-1] + 1)), [lines[i] for i in block]
    startup = records[: block[0]]
    loggers = {r["logger"] for r in startup if r}
    assert {"alembic.runtime.migration", "uvicorn.error", "api.cli"} <= loggers
    assert any(r and r["event"] == "Application startup complete." for r in startup)
    assert not any(r and str(r["event"]).startswith("Context impl") for r in records)
    banner = [lines[i] for i in block]
    assert banner[-len(users) - 2].startswith("Serving on "), banner
    assert str(users_file.resolve()) in banner[-len(users) - 1]
    for user, line in zip(users, banner[-len(users) :], strict=True):
        assert line.split() == [user["role"], user["username"]]
    assert "Serving on " in output.lines[banner_at]
    text = "\n".join(output.lines)
    assert not any(user["password"] in text for user in users)
