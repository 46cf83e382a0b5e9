"""Identity shapes other contexts may use."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from certplatform.kernel.auth import Role


class UserOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    email: str
    role: Role
    display_name: str
    locale: str
    time_zone: str | None = None
    is_active: bool
    created_at: datetime


class IssuedSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    csrf_token: str | None
    expires_at: datetime
    user: UserOut
