"""The wire contract between the phones and the server, one subpackage per version.

``v1`` holds msgspec Structs for every request and response the phone uses (camelCase on
the wire, constraints in ``msgspec.Meta``) and ``v1/openapi.json``, the committed document an
installed app was built against. A test compares it with the running app's document using
:func:`mobile_contract.compat.breaking_changes`.

Evolution rules — a released version only grows:

1. Never remove or rename a field, an operation id, a path or an accepted enum value.
2. Never change a field's type; add a new field instead and keep filling the old one.
3. New request fields get defaults (optional); new response fields may be required.
4. Unknown fields are ignored on input, so an older server accepts a newer client.
5. No ``array_like`` Structs: positional encodings cannot grow.
6. A change that must break goes into ``v2`` beside ``v1``; both are served until the last
   app on ``v1`` is gone.

After an additive change, refresh the committed document with ``patrol contract dump``.
"""

from __future__ import annotations

__all__: list[str] = []
