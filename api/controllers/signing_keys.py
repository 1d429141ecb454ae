"""The public keys that sign evidence packages, for anyone who must check a package.

Any signed-in user of any role may read them: they are public by design (the police or
procuratorate receiving a package may also get them from the brigade on paper). The answer
is the server's, the same for every county.
"""

from __future__ import annotations

from litestar import Controller, get

from api.deps import Caller, PackageKeys
from evidence.cases.package_keys import PublicKey
from mobile_contract.v1.signing_keys import SigningKey, SigningKeyList

__all__ = ["SigningKeyController"]


def _key(k: PublicKey) -> SigningKey:
    return SigningKey(
        key_id=k.key_id,
        algorithm=k.algorithm,
        public_key_pem=k.public_key_pem,
        fingerprint_sha256=k.fingerprint,
        created=k.created_at,
        current=k.current,
    )


class SigningKeyController(Controller):
    path = "/signing-keys"
    tags = ["cases"]  # noqa: RUF012

    @get(
        "/",
        operation_id="GetSigningKeys",
        summary="The public keys that sign evidence packages",
    )
    async def get_signing_keys(
        self, principal: Caller, package_keys: PackageKeys
    ) -> SigningKeyList:
        """Every package signing key, oldest first; ``current`` signs new packages. The first
        call makes the server's key pair if it has none yet."""
        del principal  # any role of any county: the keys are the server's and public
        return SigningKeyList(keys=[_key(k) for k in await package_keys.published()])
