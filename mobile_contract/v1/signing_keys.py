"""The public keys that sign evidence packages (``GetSigningKeys``).

A package's ``manifest.sig`` names the key id that signed it; whoever receives a package
checks it with the public key of that id (``publicKeyPem``), after comparing the key's
``fingerprintSha256`` with the one the brigade published on paper. Older keys stay listed
after a rotation so that the packages they signed still verify; ``current`` marks the one
that signs new packages.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["SigningKey", "SigningKeyList"]


class SigningKey(msgspec.Struct, kw_only=True, rename="camel"):
    """``keyId`` is the first 16 hex digits of ``fingerprintSha256``, the SHA-256 of the raw
    32-byte public key (``openssl pkey -pubin -in key.pem -outform DER | tail -c 32 |
    openssl dgst -sha256``). ``created`` is when this server first used the key."""

    key_id: str
    algorithm: str
    public_key_pem: str
    fingerprint_sha256: str
    created: datetime | None = None
    current: bool = False


class SigningKeyList(msgspec.Struct, kw_only=True, rename="camel"):
    """Every package signing key of this server, oldest first."""

    keys: list[SigningKey]
