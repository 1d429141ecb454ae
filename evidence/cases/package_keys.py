"""The Ed25519 key pair that signs evidence packages, and the published public keys.

The pair is used for nothing else (tokens and the custody chain have their own secret), so
its public half can be handed to anyone: the police or procuratorate receiving a package
verify it with the public key alone. Files of a keyring directory (``PATROL_PACKAGE_KEY_DIR``,
default ``<data dir>/package-keys``)::

    signing-key.pem     the current private key, PKCS#8 PEM, mode 0600; generated on first
                        use unless ``PATROL_PACKAGE_SIGNING_KEY_FILE`` names one elsewhere
    public-keys.json    every public key that has signed here, oldest first:
                        ``{"keys": [{"keyId", "algorithm", "publicKeyPem",
                        "fingerprintSha256", "created"}]}`` (the shape ``GetSigningKeys``
                        answers, so either can be given to ``patrol package verify``)
    .lock               serialises generation and rotation between processes

A key's fingerprint is the SHA-256 of its raw 32-byte public key (hex); its id is the first
16 hex digits of that. The current key is the one whose private half is in use; after
:meth:`PackageKeyring.rotate` the old private key is gone, its public key stays published,
and packages it signed still verify. Nothing here logs or prints a private key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.cases.errors import PackageSigningKeyMissingError
from infra.settings import Settings

__all__ = [
    "ALGORITHM",
    "PackageKeyring",
    "PackageSigner",
    "PublicKey",
    "load_public_keys",
    "public_key_from_pem",
]

ALGORITHM = "Ed25519"
_PRIVATE = "signing-key.pem"
_INDEX = "public-keys.json"
_LOCK = ".lock"
_MAX_KEY_FILE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One published package key. ``fingerprint`` is the SHA-256 (hex) of the raw key."""

    key_id: str
    fingerprint: str
    public_key_pem: str
    created_at: datetime | None = None
    current: bool = False
    algorithm: str = ALGORITHM

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``data``."""
        key = serialization.load_pem_public_key(self.public_key_pem.encode("ascii"))
        assert isinstance(key, Ed25519PublicKey)
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "keyId": self.key_id,
            "algorithm": self.algorithm,
            "publicKeyPem": self.public_key_pem,
            "fingerprintSha256": self.fingerprint,
            "created": self.created_at.astimezone(UTC).isoformat() if self.created_at else None,
        }


def _describe(key: Ed25519PublicKey, created_at: datetime | None) -> PublicKey:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fingerprint = hashlib.sha256(raw).hexdigest()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return PublicKey(fingerprint[:16], fingerprint, pem, created_at)


def public_key_from_pem(pem: str | bytes, *, created_at: datetime | None = None) -> PublicKey:
    """A public key from its PEM (``-----BEGIN PUBLIC KEY-----``); ``ValueError`` when it is
    not an Ed25519 public key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        msg = f"not a PEM public key: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(key, Ed25519PublicKey):
        msg = f"not an {ALGORITHM} public key"
        raise ValueError(msg)
    return _describe(key, created_at)


def _pem_blocks(text: str) -> list[str]:
    begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    blocks, rest = [], text
    while begin in rest:
        start = rest.index(begin)
        stop = rest.find(end, start)
        if stop < 0:
            break
        blocks.append(rest[start : stop + len(end)] + "\n")
        rest = rest[stop + len(end) :]
    return blocks


def _created(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _from_listing(data: Any) -> list[PublicKey]:
    """Keys of a ``{"keys": [...]}`` listing (``public-keys.json``, or what ``GetSigningKeys``
    answers). Ids and fingerprints are computed from the PEM, never taken from the file."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        msg = 'a key listing is {"keys": [{"publicKeyPem": ...}, ...]}'
        raise ValueError(msg)
    out = []
    for item in data["keys"]:
        if not isinstance(item, dict) or not isinstance(item.get("publicKeyPem"), str):
            msg = "every listed key needs its publicKeyPem"
            raise ValueError(msg)
        key = public_key_from_pem(item["publicKeyPem"], created_at=_created(item.get("created")))
        out.append(replace(key, current=item.get("current") is True))
    return out


def load_public_keys(path: Path | str) -> list[PublicKey]:
    """The public keys in a file: PEM (one or more ``PUBLIC KEY`` blocks), or JSON as
    ``GetSigningKeys`` answers it. ``ValueError`` when the file holds none."""
    with Path(path).open("rb") as handle:
        raw = handle.read(_MAX_KEY_FILE + 1)
    if len(raw) > _MAX_KEY_FILE:
        msg = f"{path}: too large for a key file"
        raise ValueError(msg)
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        keys = _from_listing(json.loads(text))
    else:
        keys = [public_key_from_pem(block) for block in _pem_blocks(text)]
    if not keys:
        msg = f"{path}: no {ALGORITHM} public key found"
        raise ValueError(msg)
    return keys


@dataclass(frozen=True, slots=True)
class PackageSigner:
    """The current private key, with its published description."""

    public: PublicKey
    _private: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``data``."""
        return self._private.sign(data)

    def sign_b64(self, data: bytes) -> str:
        return base64.b64encode(self.sign(data)).decode("ascii")


def _write_private(path: Path, key: Ed25519PrivateKey, *, replace_existing: bool) -> None:
    """Write ``key`` to ``path`` with mode 0600, atomically (a new file renamed over)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace_existing:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE)
        key = serialization.load_pem_private_key(data, password=None)
    except FileNotFoundError as exc:
        msg = "the package signing key file does not exist"
        raise PackageSigningKeyMissingError(msg) from exc
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = "the package signing key file cannot be read as an unencrypted PEM private key"
        raise PackageSigningKeyMissingError(msg) from exc
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"the package signing key is not an {ALGORITHM} key"
        raise PackageSigningKeyMissingError(msg)
    return key


class PackageKeyring:
    """The package keys of this server: ``directory`` holds the published public keys and,
    unless ``private_key_file`` is given, the current private key (made on first use)."""

    def __init__(self, directory: Path, *, private_key_file: Path | None = None) -> None:
        self.directory = directory
        self.private_key_file = private_key_file

    @classmethod
    def from_settings(cls, settings: Settings) -> PackageKeyring:
        """``PATROL_PACKAGE_KEY_DIR`` (else ``<data dir>/package-keys``) and
        ``PATROL_PACKAGE_SIGNING_KEY_FILE``."""
        return cls(
            settings.package_key_dir, private_key_file=settings.evidence.package_signing_key_file
        )

    @property
    def _private_path(self) -> Path:
        return self.private_key_file or self.directory / _PRIVATE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _index(self) -> list[PublicKey]:
        path = self.directory / _INDEX
        if not path.is_file():
            return []
        return _from_listing(json.loads(path.read_text("utf-8")))

    def _write_index(self, keys: Sequence[PublicKey]) -> None:
        path = self.directory / _INDEX
        tmp = path.with_name(path.name + ".new")
        body = {"keys": [k.to_json() for k in keys]}
        tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", "utf-8")
        tmp.replace(path)

    def _register(self, key: Ed25519PrivateKey) -> PublicKey:
        """The published description of ``key``; added to the index when it is new."""
        described = _describe(key.public_key(), None)
        keys = self._index()
        for known in keys:
            if known.key_id == described.key_id:
                return known
        published = replace(described, created_at=datetime.now(UTC))
        self._write_index([*keys, published])
        return published

    def signer(self) -> PackageSigner:
        """The current key. Without a configured key file, one is generated on first use;
        a configured file that is missing or unusable is ``package_signing_key_missing``."""
        with self._locked():
            path = self._private_path
            if self.private_key_file is None and not path.exists():
                _write_private(path, Ed25519PrivateKey.generate(), replace_existing=False)
            key = _read_private(path)
            public = self._register(key)
        return PackageSigner(replace(public, current=True), key)

    def rotate(self) -> PublicKey:
        """Make a new current key (its private half replaces the old one's file); the old
        public key stays published, so the packages it signed still verify."""
        with self._locked():
            key = Ed25519PrivateKey.generate()
            _write_private(self._private_path, key, replace_existing=True)
            public = self._register(key)
        return replace(public, current=True)

    def public_keys(self, *, create: bool = True) -> list[PublicKey]:
        """Every published key, oldest first, the current one marked. With ``create`` the
        current key is made if there is none yet (so it can be published before the first
        package); without, a directory that has none answers what it has."""
        current: str | None = None
        if create:
            current = self.signer().key_id  # package_signing_key_missing when unusable
        elif self._private_path.exists():
            with contextlib.suppress(PackageSigningKeyMissingError):
                current = self.signer().key_id
        if not self.directory.is_dir():
            return []
        with self._locked():
            keys = self._index()
        return [replace(k, current=k.key_id == current) for k in keys]

    async def published(self) -> list[PublicKey]:
        """:meth:`public_keys` (the current key made if there is none yet), off the loop."""
        return await asyncio.to_thread(self.public_keys)
