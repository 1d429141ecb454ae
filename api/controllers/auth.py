"""Login, token refresh, device tokens and ``/me``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.auth import client_address
from api.deps import Accounts, Caller, Org
from mobile_contract.v1.auth import (
    CountyInfo,
    Device,
    DeviceRegistration,
    IssuedDeviceToken,
    Me,
    RefreshRequest,
    TokenPair,
    TokenRequest,
)
from patrol.accounts import IssuedSecret, principal_of
from patrol.models import DeviceToken, User

__all__ = ["AuthController", "MeController"]


def _pair(state: State, user: User, refresh: IssuedSecret) -> TokenPair:
    return TokenPair(
        access_token=state.tokens.access_token(principal_of(user), epoch=user.session_epoch),
        expires_in=state.settings.auth.access_token_ttl_s,
        refresh_token=refresh.secret,
        refresh_expires_at=refresh.expires_at,
    )


def _device(row: DeviceToken) -> Device:
    return Device(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012

    @post(
        "/token",
        operation_id="CreateToken",
        status_code=HTTP_200_OK,
        summary="Log in with username and password",
    )
    async def create_token(
        self,
        data: JSONBody[TokenRequest],
        accounts: Accounts,
        state: State,
        request: Request[Any, Any, Any],
    ) -> TokenPair:
        """A short-lived access token and a refresh token. Repeated failures lock the name
        from that client address, and many failures lock the address."""
        address = client_address(request, state.settings.auth)
        user = await accounts.authenticate(data.username, data.password, address=address)
        return _pair(state, user, await accounts.issue_refresh_token(user))

    @post(
        "/refresh",
        operation_id="RefreshToken",
        status_code=HTTP_200_OK,
        summary="Trade a refresh token for new tokens",
    )
    async def refresh_token(
        self, data: JSONBody[RefreshRequest], accounts: Accounts, state: State
    ) -> TokenPair:
        """Refresh tokens rotate: each one works once; using one twice ends its login."""
        user, refresh = await accounts.rotate_refresh_token(data.refresh_token)
        return _pair(state, user, refresh)

    @post("/devices", operation_id="RegisterDevice", summary="Issue a long-lived device token")
    async def register_device(
        self,
        data: JSONBody[DeviceRegistration],
        accounts: Accounts,
        principal: Caller,
        state: State,
    ) -> IssuedDeviceToken:
        """A token for one phone, valid until revoked or expired; shown only in this answer."""
        row = await accounts.register_device(principal, data.name)
        ttl = timedelta(seconds=state.settings.auth.device_token_ttl_s)
        return IssuedDeviceToken(
            device=_device(row), token=state.tokens.device_token(principal, row.id, ttl)
        )

    @get("/devices", operation_id="ListDevices", summary="Device tokens (own; admins: county)")
    async def list_devices(self, accounts: Accounts, principal: Caller) -> list[Device]:
        """The caller's device tokens; a county admin sees every device in the county."""
        return [_device(r) for r in await accounts.list_devices(principal)]

    @delete(
        "/devices/{device_id:uuid}",
        operation_id="RevokeDevice",
        status_code=HTTP_200_OK,
        summary="Revoke a device token at once",
    )
    async def revoke_device(
        self, device_id: FromPath[uuid.UUID], accounts: Accounts, principal: Caller
    ) -> Device:
        """The phone's next request with this token is refused."""
        return _device(await accounts.revoke_device(principal, device_id))


class MeController(Controller):
    path = "/me"
    tags = ["auth"]  # noqa: RUF012

    @get("", operation_id="GetMe", summary="Who am I")
    async def get_me(self, accounts: Accounts, org: Org, principal: Caller) -> Me:
        """The caller's account, role and county."""
        user = await accounts.get_user(principal, principal.user_id)
        county = await org.get_county(principal)
        return Me(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            phone=user.phone,
            county=CountyInfo(id=county.id, admin_code=county.admin_code, name=county.name),
        )
