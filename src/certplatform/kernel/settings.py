"""One settings object, read from the environment (names from the design documents)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development", alias="APP_ENV", description="development, test or production"
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/certplatform.db",
        alias="DATABASE_URL",
        description="SQLAlchemy URL; postgres:// and sqlite:/// are accepted as well",
    )
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    nats_url: str | None = Field(default=None, alias="NATS_URL")
    s3_endpoint: str | None = Field(default=None, alias="S3_ENDPOINT")
    s3_access_key: str | None = Field(default=None, alias="S3_ACCESS_KEY")
    s3_secret_key: str | None = Field(default=None, alias="S3_SECRET_KEY")
    ch_host: str | None = Field(default=None, alias="CH_HOST")
    port: int = Field(default=3000, alias="PORT", ge=1, le=65535)
    host: str = Field(default="127.0.0.1", alias="HOST")
    secret_key: str = Field(
        default=DEV_SECRET, alias="SECRET_KEY", description="signs cookies and CSRF tokens"
    )
    media_dir: Path = Field(default=Path("var/media"), alias="MEDIA_DIR")
    session_days: int = Field(default=14, alias="SESSION_DAYS", description="login lifetime")
    login_limit_account: str = Field(
        default="5/minute", alias="LOGIN_LIMIT_ACCOUNT", description="failed logins per account"
    )
    login_limit_ip: str = Field(
        default="30/minute", alias="LOGIN_LIMIT_IP", description="login attempts per client IP"
    )
    integrity_event_limit: str = Field(
        default="30/minute",
        alias="INTEGRITY_EVENT_LIMIT",
        description="integrity reports (focus lost, paste, ...) per attempt",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        alias="MAX_BODY_BYTES",
        ge=1024,
        description="largest request body; larger ones get 413 before they are read",
    )
    max_upload_bytes: int = Field(
        default=201 * 1024 * 1024,
        alias="MAX_UPLOAD_BYTES",
        ge=1024,
        description="largest body of an import upload: the 200 MB file plus its form",
    )
    answer_grace_seconds: float = Field(
        default=5.0, alias="ANSWER_GRACE_SECONDS", ge=0, description="late answers accepted"
    )
    wrong_note_clear_after: int = Field(
        default=2, alias="WRONG_NOTE_CLEAR_AFTER", ge=1, description="right answers in a row"
    )
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    sweeper_interval: float = Field(
        default=5.0, alias="SWEEPER_INTERVAL", ge=0, description="deadline sweep; 0 = off"
    )
    event_relay_interval: float = Field(
        default=0.5, alias="EVENT_RELAY_INTERVAL", ge=0, description="seconds; 0 = no relay"
    )

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    @property
    def cookie_secure(self) -> bool:
        return self.production

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Settings:
        if self.production and self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY must be set in production")
        if self.production and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        return self


def to_async_url(url: str) -> str:
    """Map the common URL spellings to the async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
