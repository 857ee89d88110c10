"""Request and response models of user administration and API tokens (the JSON API)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from review_ui.schemas import _In, _Out
from storage.models import ApiToken
from storage.repo.tokens import MAX_EXPIRES_DAYS, NAME_MAX, token_state

# Log-in names: plain letters and digits with . _ - (no spaces or look-alike accented letters to mistype)
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
FULL_NAME_MAX = 200
Role = Literal["admin", "duty", "investigator"]
NewPassword = Annotated[str, Field(min_length=8, max_length=200, description="At least 8 characters")]


class UserCreateIn(_In):
    username: Annotated[str, Field(pattern=USERNAME_PATTERN, description="Letters, digits, . _ - (up to 100)")]
    full_name: Annotated[str, Field(max_length=FULL_NAME_MAX)] = ""
    role: Role
    password: NewPassword


class UserUpdateIn(_In):
    """Only the fields given change; disabling a user ends their sessions and revokes their API tokens."""

    full_name: Annotated[str | None, Field(max_length=FULL_NAME_MAX)] = None
    role: Role | None = None
    active: bool | None = Field(default=None, description="false: disable the account (it stays, with its history)")


class PasswordResetIn(_In):
    new_password: NewPassword


class UserAdminOut(_Out):
    id: int
    username: str
    full_name: str
    role: str
    active: bool
    created_at: dt.datetime = Field(description="UTC")
    password_changed_at: dt.datetime | None = Field(description="UTC; sessions from before it have ended")


class TokenCreateIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX, description="What the script is for")]
    expires_days: Annotated[
        int | None, Field(ge=1, le=MAX_EXPIRES_DAYS, description="Days until it stops working; null: never")
    ] = None


class TokenOut(_Out):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it")
    state: str = Field(description="active | expired | revoked")
    created_at: dt.datetime = Field(description="UTC")
    expires_at: dt.datetime | None = Field(description="UTC; null: never")
    last_used_at: dt.datetime | None = Field(description="UTC, to the minute")
    revoked_at: dt.datetime | None = Field(description="UTC")

    @classmethod
    def from_token(cls, token: ApiToken) -> TokenOut:
        return cls(id=token.id, name=token.name, prefix=token.prefix, state=token_state(token),
                   created_at=token.created_at, expires_at=token.expires_at, last_used_at=token.last_used_at,
                   revoked_at=token.revoked_at)  # fmt: skip


class TokenCreatedOut(TokenOut):
    token: str = Field(description="Send as Authorization: Bearer <token>. Shown only in this answer: keep it now")
