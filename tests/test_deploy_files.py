"""The deployment files in infra/deploy: they parse, run the right commands, hold no secret.

They are not started here (no container runtime, no systemd session); see their README.
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

DEPLOY = Path(__file__).resolve().parents[1] / "infra" / "deploy"
UNITS = DEPLOY / "systemd"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|_KEY$|DATABASE_URL")


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def _env_lines(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@pytest.mark.parametrize(
    ("unit", "argv"),
    [
        ("patrol-api@.service", ["serve", "--no-demo", "--port", "%i"]),
        ("patrol-worker@.service", ["worker"]),
        ("patrol-migrate.service", ["db", "upgrade"]),
    ],
)
def test_units_run_patrol(unit: str, argv: list[str]) -> None:
    service = _unit(unit)["Service"]
    exec_start = shlex.split(service["ExecStart"])
    assert Path(exec_start[0]).name == "patrol"
    assert exec_start[1:] == argv
    assert service["EnvironmentFile"] == "/etc/patrol/patrol.env"
    assert service["User"] == "patrol"


def test_api_unit_leaves_background_work_to_workers() -> None:
    api = (UNITS / "patrol-api@.service").read_text()
    assert "Environment=PATROL_INPROCESS_WORKER=0" in api.splitlines()
    for name in ("patrol-api@.service", "patrol-worker@.service"):
        unit = _unit(name)["Unit"]
        assert "patrol-migrate.service" in unit["Requires"]
        assert "patrol-migrate.service" in unit["After"]


def test_units_hold_no_secret() -> None:
    for path in UNITS.glob("*.service"):
        for line in path.read_text().splitlines():
            if line.startswith("Environment="):
                name = line.removeprefix("Environment=").partition("=")[0]
                assert not SECRET_NAMES.search(name), f"{path.name}: {line}"


def test_env_example_names_settings_without_secrets() -> None:
    values = _env_lines(DEPLOY / "patrol.env.example")
    for name in ("DATABASE_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID",
                 "S3_SECRET_ACCESS_KEY", "PATROL_SECRET_KEY"):  # fmt: skip
        assert name in values
    secrets = {k: v for k, v in values.items() if SECRET_NAMES.search(k) or k.endswith("_ID")}
    assert secrets and all(v == "" for v in secrets.values()), secrets
    compose_env = _env_lines(DEPLOY / "compose.env.example")
    assert {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "PATROL_SECRET_KEY"} <= set(compose_env)
    assert all(v == "" for k, v in compose_env.items() if SECRET_NAMES.search(k))


def test_compose_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "minio", "migrate", "api", "worker", "proxy"}
    assert services["db"]["image"].startswith("postgis/postgis:")
    assert services["minio"]["image"].startswith("minio/minio")
    api, worker = services["api"], services["worker"]
    assert api["command"] == ["patrol", "serve", "--no-demo"]
    assert worker["command"] == ["patrol", "worker"]
    assert services["migrate"]["command"] == ["patrol", "db", "upgrade"]
    assert api["deploy"]["replicas"] >= 2
    assert worker["deploy"]["replicas"] >= 2
    assert api["environment"]["PATROL_INPROCESS_WORKER"] == "0"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        env = services[name]["environment"]
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert "@db:5432/" in env["DATABASE_URL"]
    # the proxy is the trusted one, at its fixed address
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert api["environment"]["PATROL_TRUSTED_PROXIES"] == proxy_ip
    assert "dynamic a api 8000" in (DEPLOY / "Caddyfile").read_text()


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{path}[{i}]")]
    return [(path, str(node))]


def test_compose_holds_no_secret() -> None:
    """Every password and key comes from the environment (.env) by ${NAME}."""
    found = 0
    for path, value in _strings(_compose()):
        name = path.rsplit(".", 1)[-1]
        if SECRET_NAMES.search(name) or name.endswith("ROOT_USER") or name == "S3_ACCESS_KEY_ID":
            found += 1
            assert "${" in value, f"{path} is written inline"
    assert found >= 8
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert not re.search(r"(PASSWORD|SECRET|_KEY)\s*=", dockerfile)
    assert (DEPLOY / ".gitignore").read_text().split() == [".env"]
