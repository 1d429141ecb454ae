"""Evidence packages anyone can verify: Ed25519 signatures under a key pair used for nothing else.

Packages are exported through the real app (PostGIS, S3) and checked the way a recipient
would: on another machine, with only the public key the brigade published (the answer of
``GetSigningKeys`` saved to a file, or its PEM), by ``patrol package verify`` run with an
empty environment from an empty directory, and by plain OpenSSL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from evidence.cases.models import CasePackage
from evidence.cases.package import (
    MANIFEST,
    PUBLIC_KEY,
    README,
    SIGNATURE,
    SIGNATURE_BIN,
    sign_manifest,
    verify_package,
)
from evidence.cases.package_keys import PackageKeyring, load_public_keys
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests.cases.conftest import LAT, LON, add_evidence
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
CUSTODY_KEY = "signing-test-custody-key-" + "c" * 20
PATROL = str(Path(sys.executable).with_name("patrol"))
OPENSSL = shutil.which("openssl") or "openssl"  # installed by infra/bootstrap.sh
PHOTO_A = b"\xff\xd8\xff\xe0" + os.urandom(120_000) + b"\xff\xd9"
PHOTO_B = b"\xff\xd8\xff\xe1" + os.urandom(80_000) + b"\xff\xd9"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("package-keys")


@pytest.fixture(scope="module")
def signing_settings(settings: Settings, key_dir: Path) -> Settings:
    evidence = replace(settings.evidence, package_signing_key=CUSTODY_KEY, package_key_dir=key_dir)
    return replace(settings, evidence=evidence)


@pytest.fixture(scope="module")
async def api(signing_settings: Settings, engine: AsyncEngine) -> AsyncIterator[Client]:
    del engine  # migrated
    app = create_app(signing_settings)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


# -- helpers -------------------------------------------------------------------------------------
async def _export(
    api: Client, county: CountyFixture, db: AsyncSession, s3: S3ObjectStore, out: Path
) -> str:
    """A flagged case with two photos, exported by the squad through the API to ``out``."""
    owner = county.principal(Role.INSPECTOR)
    a = await add_evidence(db, s3, owner, PHOTO_A, caption="远景")
    b = await add_evidence(db, s3, owner, PHOTO_B, lon=LON + 0.0003, caption="近景")
    body = {"cause": "未经批准占用耕地建房", "violationKind": "land_occupation", "lon": LON,
            "lat": LAT, "evidenceIds": [str(a), str(b)]}  # fmt: skip
    captain = county.headers(Role.CAPTAIN)
    case = (await api.post("/api/v1/cases", json=body, headers=captain)).json()
    flag = {"caseId": case["id"], "reason": "疑似非法占用农用地罪"}
    assert (await api.post("/api/v1/referral-flags", json=flag, headers=captain)).status_code == 201
    async with api.stream(
        "POST", f"/api/v1/cases/{case['id']}/package", headers=county.headers(Role.SECURITY_SQUAD)
    ) as resp:
        assert resp.status_code == 200
        package_id = resp.headers["x-package-id"]
        with out.open("wb") as fh:
            async for chunk in resp.aiter_bytes():
                fh.write(chunk)
    return package_id


async def _published(api: Client, county: CountyFixture, role: Role = Role.INSPECTOR) -> Any:
    resp = await api.get("/api/v1/signing-keys", headers=county.headers(role))
    assert resp.status_code == 200, resp.text
    return resp.json()


def _elsewhere(tmp_path: Path, package: Path, published: Any) -> tuple[Path, Path, Path]:
    """The recipient's machine: a copy of the package, the published listing saved as JSON,
    and the current key's PEM, in a directory of their own."""
    desk = tmp_path / "recipient"
    desk.mkdir()
    copy = desk / "package.zip"
    shutil.copyfile(package, copy)
    listing = desk / "signing-keys.json"
    listing.write_text(json.dumps(published), "utf-8")
    pem = desk / "published.pem"
    pem.write_text(next(k["publicKeyPem"] for k in published["keys"] if k["current"]))
    return copy, listing, pem


def _patrol_verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``patrol package verify`` as on a machine with no server: no environment at all."""
    return subprocess.run(
        [PATROL, "package", "verify", *args],
        env={},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _run(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def _openssl_verify(folder: Path) -> subprocess.CompletedProcess[str]:
    """The one command of README.txt, run where the three files were unpacked."""
    command = (
        f"{OPENSSL} pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in {MANIFEST} "
        f"-sigfile {SIGNATURE_BIN}"
    )
    return subprocess.run(
        command.split(), cwd=folder, capture_output=True, text=True, check=False, timeout=60
    )


def _unpack(package: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(package) as zf:
        for name in (MANIFEST, SIGNATURE_BIN, PUBLIC_KEY):
            (folder / name).write_bytes(zf.read(name))


def _rewrite(src: Path, dst: Path, name: str, data: bytes | None) -> None:
    """``src`` with member ``name`` replaced by ``data`` (dropped when ``None``)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == name:
                if data is not None:
                    zout.writestr(info, data)
                continue
            zout.writestr(info, zin.read(info.filename))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _raw_fingerprint(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# -- tests ---------------------------------------------------------------------------------------
async def test_a_package_verifies_on_another_machine_with_only_the_published_key(
    api: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    session_factory: async_sessionmaker[AsyncSession],
    key_dir: Path,
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    package = tmp_path / "exported.zip"
    package_id = await _export(api, county, db, store, package)

    published = await _published(api, county)
    [key] = published["keys"]
    assert key["algorithm"] == "Ed25519" and key["current"] is True and key["created"]
    assert key["fingerprintSha256"] == _raw_fingerprint(key["publicKeyPem"])
    assert key["keyId"] == key["fingerprintSha256"][:16]
    for role in Role:  # every role reads the same published keys
        assert await _published(api, county, role) == published
    private = key_dir / "signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()

    with zipfile.ZipFile(package) as zf:
        sig = json.loads(zf.read(SIGNATURE))
        manifest = json.loads(zf.read(MANIFEST))
        sheet = zf.read("evidence-sheet.html").decode()
        readme = zf.read(README).decode()
        assert zf.read(PUBLIC_KEY).decode() == key["publicKeyPem"]
        assert len(zf.read(SIGNATURE_BIN)) == 64
    assert sig["alg"] == "Ed25519" and sig["keyId"] == key["keyId"]
    assert manifest["signing_key"]["key_id"] == key["keyId"]
    assert {f["path"] for f in manifest["files"]} >= {PUBLIC_KEY, README, "evidence-sheet.html"}
    assert key["keyId"] in sheet and key["fingerprintSha256"] in sheet
    assert readme.startswith("证据包校验说明") and readme.index("How to verify") > 0
    assert "openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in manifest.json " \
           "-sigfile manifest.sig.bin" in readme  # fmt: skip
    async with session_factory() as session:
        row = await session.get(CasePackage, uuid.UUID(package_id))
        assert row is not None
        assert (row.signature_alg, row.signing_key_id) == ("Ed25519", key["keyId"])
        assert row.signature == sig["signature"]

    copy, listing, pem = _elsewhere(tmp_path, package, published)
    for trusted in (listing, pem):
        done = _patrol_verify(copy.name, "--public-key", trusted.name, cwd=copy.parent)
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": OK" in done.stdout
        assert f"key {key['keyId']}" in done.stdout and key["fingerprintSha256"] in done.stdout
    unkeyed = _patrol_verify(copy.name, cwd=copy.parent)  # no key given, none on this machine
    assert unkeyed.returncode == 1
    assert "signature_unchecked: manifest.sig" in unkeyed.stdout

    unpacked = tmp_path / "unpacked"
    _unpack(copy, unpacked)
    openssl = _openssl_verify(unpacked)
    assert openssl.returncode == 0, openssl.stdout + openssl.stderr
    assert "Signature Verified Successfully" in openssl.stdout
    pipeline = (
        f"openssl pkey -pubin -in {PUBLIC_KEY} -outform DER | tail -c 32 | openssl dgst -sha256"
    )
    assert pipeline in readme
    fingerprint = _run([shutil.which("sh") or "/bin/sh", "-c", pipeline], cwd=unpacked)
    assert fingerprint.stdout.strip().endswith(key["fingerprintSha256"]), fingerprint.stderr


async def test_a_one_byte_change_anywhere_is_detected(
    api: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    good = tmp_path / "good.zip"
    await _export(api, county, db, store, good)
    keys = load_public_keys(_elsewhere(tmp_path, good, await _published(api, county))[1])
    assert verify_package(good, public_keys=keys).ok
    with zipfile.ZipFile(good) as zf:
        manifest = zf.read(MANIFEST)
        original = json.loads(manifest)["evidence"][0]["path"]
        photo = zf.read(original)
        sig = zf.read(SIGNATURE)
        raw = zf.read(SIGNATURE_BIN)

    def problems(name: str, data: bytes) -> set[tuple[str, str]]:
        bad = tmp_path / f"bad-{name.replace('/', '_')}.zip"
        _rewrite(good, bad, name, data)
        report = verify_package(bad, public_keys=keys)
        assert not report.ok
        return {(p.path, p.problem) for p in report.problems}

    at = manifest.index(b'"package_id": "') + len(b'"package_id": "')
    assert problems(MANIFEST, _flip(manifest, at)) == {(MANIFEST, "signature_invalid")}
    assert problems(original, _flip(photo, len(photo) // 2)) == {(original, "file_modified")}
    at = sig.index(b'"signature": "') + len(b'"signature": "') + 10  # another base64 digit
    digit = b"B" if sig[at : at + 1] == b"A" else b"A"
    assert (MANIFEST, "signature_invalid") in problems(SIGNATURE, sig[:at] + digit + sig[at + 1 :])
    assert problems(SIGNATURE_BIN, _flip(raw, 20)) == {(SIGNATURE_BIN, "signature_invalid")}
    assert problems(SIGNATURE_BIN, None) == {(SIGNATURE_BIN, "signature_missing")}

    # OpenSSL refuses the changed manifest and the changed detached signature alike
    for name, data in ((MANIFEST, _flip(manifest, 40)), (SIGNATURE_BIN, _flip(raw, 0))):
        bad = tmp_path / "openssl-bad.zip"
        _rewrite(good, bad, name, data)
        folder = tmp_path / f"openssl-{name}"
        _unpack(bad, folder)
        refused = _openssl_verify(folder)
        assert refused.returncode != 0, refused.stdout
        assert "Signature Verification Failure" in refused.stdout


async def test_packages_signed_before_a_rotation_still_verify(
    api: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    key_dir: Path,
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    before = tmp_path / "before.zip"
    await _export(api, county, db, store, before)
    [old] = [k for k in (await _published(api, county))["keys"] if k["current"]]

    rotated = _run(
        [PATROL, "package", "keygen"], env={"PATROL_PACKAGE_KEY_DIR": str(key_dir)}, cwd=tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "PRIVATE" not in rotated.stdout + rotated.stderr  # the new public key only

    after = tmp_path / "after.zip"
    await _export(api, county, db, store, after)
    published = await _published(api, county)
    by_id = {k["keyId"]: k for k in published["keys"]}
    [new] = [k for k in published["keys"] if k["current"]]
    assert new["keyId"] != old["keyId"] and new["keyId"] in rotated.stdout
    assert by_id[old["keyId"]]["current"] is False  # still published, no longer signing
    assert by_id[old["keyId"]]["created"] <= new["created"]
    with zipfile.ZipFile(after) as zf:
        assert json.loads(zf.read(SIGNATURE))["keyId"] == new["keyId"]

    _, listing, new_pem = _elsewhere(tmp_path, before, published)
    for package in (before, after):
        done = _patrol_verify(str(package), "--public-key", str(listing), cwd=tmp_path)
        assert done.returncode == 0, done.stdout
    # the old package is not the new key's: given only the new key, it does not verify
    only_new = verify_package(before, public_keys=load_public_keys(new_pem))
    assert [(p.path, p.problem) for p in only_new.problems] == [(SIGNATURE, "signature_invalid")]
    assert old["keyId"] in only_new.problems[0].detail


async def test_hmac_packages_of_format_1_still_verify_with_the_old_secret(
    api: Client, make_county: Any, db: AsyncSession, store: S3ObjectStore, tmp_path: Path
) -> None:
    """A package as format 1 signed it: ``manifest.sig`` an HMAC under the server's secret,
    no detached signature."""
    county: CountyFixture = await make_county()
    exported = tmp_path / "exported.zip"
    await _export(api, county, db, store, exported)
    with zipfile.ZipFile(exported) as zf:
        manifest = zf.read(MANIFEST)
    secret = "the-old-server-secret-" + "s" * 20
    sig = {"alg": "HMAC-SHA256", "key_id": "0123456789abcdef",
           "signature": sign_manifest(manifest, secret)}  # fmt: skip
    old = tmp_path / "format1.zip"
    half = tmp_path / "half.zip"
    _rewrite(exported, half, SIGNATURE_BIN, None)
    _rewrite(half, old, SIGNATURE, json.dumps(sig).encode())

    assert verify_package(old, hmac_key=secret).ok
    unchecked = verify_package(old)
    assert [(p.path, p.problem) for p in unchecked.problems] == [(SIGNATURE, "signature_unchecked")]
    wrong = verify_package(old, hmac_key="another-secret-" + "x" * 20)
    assert [(p.path, p.problem) for p in wrong.problems] == [(MANIFEST, "signature_invalid")]

    secret_file = tmp_path / "old-secret.txt"
    secret_file.write_text(secret + "\n")
    done = _patrol_verify(str(old), "--hmac-key-file", str(secret_file), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature: HMAC-SHA256" in done.stdout


async def test_a_key_file_from_the_settings_signs_and_a_missing_one_is_refused(
    settings: Settings,
    engine: AsyncEngine,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    del engine  # migrated
    pem = tmp_path / "package-signing-key.pem"
    assert _run([OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", str(pem)]).returncode == 0
    public = _run([OPENSSL, "pkey", "-in", str(pem), "-pubout"]).stdout
    published = pem_of(public, tmp_path)
    county: CountyFixture = await make_county()
    for key_file, status in ((pem, 200), (tmp_path / "absent.pem", 503)):
        evidence = replace(
            settings.evidence,
            package_signing_key=CUSTODY_KEY,
            package_key_dir=tmp_path / f"keys-{status}",
            package_signing_key_file=key_file,
        )
        app = create_app(replace(settings, evidence=evidence))
        async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
            resp = await client.get("/api/v1/signing-keys", headers=county.headers(Role.ADMIN))
            assert resp.status_code == status, resp.text
            if status == 503:
                assert resp.json()["code"] == "package_signing_key_missing"
                assert str(key_file) not in resp.text  # no server path in the answer
                assert not (tmp_path / "absent.pem").exists()  # never made for you
                continue
            [key] = resp.json()["keys"]
            assert key["publicKeyPem"] == public and key["current"] is True
            package = tmp_path / "with-key-file.zip"
            await _export(client, county, db, store, package)
            with zipfile.ZipFile(package) as zf:
                assert json.loads(zf.read(SIGNATURE))["keyId"] == key["keyId"]
            assert verify_package(package, public_keys=load_public_keys(published)).ok


def pem_of(text: str, folder: Path) -> Path:
    path = folder / "openssl-public.pem"
    path.write_text(text)
    return path


def test_keyring_refuses_what_is_not_an_ed25519_key(tmp_path: Path) -> None:
    rsa = tmp_path / "rsa.pem"
    subprocess.run(
        [OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(rsa)], check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    keyring = PackageKeyring(tmp_path / "keys", private_key_file=rsa)
    with pytest.raises(Exception, match="not an Ed25519 key") as info:
        keyring.signer()
    assert getattr(info.value, "code", None) == "package_signing_key_missing"
    with pytest.raises(ValueError, match="no Ed25519 public key"):
        load_public_keys(tmp_path / "keys" / ".lock")
