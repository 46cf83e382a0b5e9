"""One settings object, read from the environment (names from the design documents)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside development
DEV_AUDIT_KEY = "dev-only-audit-key-change-me"  # refused in production, like DEV_SECRET
DEV_TURN_SECRET = "dev-only-turn-secret-change-me"  # noqa: S105 - refused in production
ICE_URL = re.compile(r"^(stun|stuns|turn|turns):[A-Za-z0-9.\-\[\]:]+(\?transport=(udp|tcp))?$")
KEY_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"


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
    redis_prefix: str = Field(
        default="certplatform:",
        alias="REDIS_PREFIX",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="start of every Redis key and channel, so deployments can share a server",
    )
    nats_url: str | None = Field(default=None, alias="NATS_URL")
    nats_namespace: str = Field(
        default="certplatform",
        alias="NATS_NAMESPACE",
        pattern=r"^[a-z][a-z0-9_]{0,47}$",
        description="first token of every event subject and prefix of the stream names, so "
        "deployments (or test runs) can share a NATS server",
    )
    s3_endpoint: str | None = Field(default=None, alias="S3_ENDPOINT")
    s3_access_key: str | None = Field(default=None, alias="S3_ACCESS_KEY")
    s3_secret_key: str | None = Field(default=None, alias="S3_SECRET_KEY")
    s3_bucket: str = Field(
        default="certplatform-media",
        alias="S3_BUCKET",
        pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$",
        description="bucket of media and journals when S3_ENDPOINT is set (made if missing)",
    )
    s3_region: str = Field(default="us-east-1", alias="S3_REGION", max_length=40)
    ch_host: str | None = Field(
        default=None,
        alias="CH_HOST",
        description="ClickHouse for the analytics store (ADR 0031): a host (HTTP port 8123), "
        "a URL http[s]://user:password@host:port/database, or chdb:<directory> for the "
        "embedded engine; unset keeps analytics in the application database",
    )
    ch_user: str = Field(default="default", alias="CH_USER", max_length=200)
    ch_password: str = Field(default="", alias="CH_PASSWORD", max_length=500)
    ch_database: str = Field(default="default", alias="CH_DATABASE", max_length=200)
    port: int = Field(default=3000, alias="PORT", ge=1, le=65535)
    host: str = Field(default="127.0.0.1", alias="HOST")
    secret_key: str = Field(
        default=DEV_SECRET, alias="SECRET_KEY", description="signs cookies and CSRF tokens"
    )
    media_dir: Path = Field(default=Path("var/media"), alias="MEDIA_DIR")
    session_days: int = Field(default=14, alias="SESSION_DAYS", description="login lifetime")
    login_limit_account_ip: str = Field(
        default="5/minute",
        alias="LOGIN_LIMIT_ACCOUNT_IP",
        description="failed logins per account from one client IP (the strict limit)",
    )
    login_limit_account: str = Field(
        default="100/hour",
        alias="LOGIN_LIMIT_ACCOUNT",
        description="failed logins per account from all IPs together (high: see ADR 0011)",
    )
    login_limit_ip: str = Field(
        default="30/minute", alias="LOGIN_LIMIT_IP", description="login attempts per client IP"
    )
    signup_limit_ip: str = Field(
        default="10/hour", alias="SIGNUP_LIMIT_IP", description="sign-up attempts per client IP"
    )
    comment_limit_user: str = Field(
        default="10/minute",
        alias="COMMENT_LIMIT_USER",
        description="discussion comments (new or edited) per user",
    )
    report_limit_user: str = Field(
        default="30/hour",
        alias="REPORT_LIMIT_USER",
        description="error reports and abuse reports together per user",
    )
    room_message_limit_user: str = Field(
        default="20/minute",
        alias="ROOM_MESSAGE_LIMIT_USER",
        description="study room chat messages (new or edited) per user",
    )
    stun_urls: str = Field(
        default="",
        alias="STUN_URLS",
        max_length=1000,
        description="STUN servers for the study rooms' calls, comma-separated "
        "(stun:turn.example.org:3478); empty: none",
    )
    turn_urls: str = Field(
        default="",
        alias="TURN_URLS",
        max_length=1000,
        description="TURN servers (turn:turn.example.org:3478?transport=udp, "
        "turns:…:5349), comma-separated; empty: no relay",
    )
    turn_secret: str = Field(
        default=DEV_TURN_SECRET,
        alias="TURN_SECRET",
        description="the TURN server's shared secret (coturn use-auth-secret, "
        "static-auth-secret): each page gets a time-limited HMAC credential from it",
    )
    turn_ttl_seconds: int = Field(
        default=3600,
        alias="TURN_TTL_SECONDS",
        ge=60,
        le=86400,
        description="how long a TURN credential handed to a room page is valid",
    )
    forwarded_allow_ips: str = Field(
        default="",
        alias="FORWARDED_ALLOW_IPS",
        description=(
            "comma-separated IPs or CIDR networks of reverse proxies whose X-Forwarded-For is "
            "believed; empty (the default) believes no one and uses the TCP peer"
        ),
    )
    principal_cache_seconds: float = Field(
        default=60.0,
        alias="PRINCIPAL_CACHE_SECONDS",
        ge=0,
        le=3600,
        description="how long a process remembers a signed-in token without asking the "
        "database (revocations reach every process at once on PostgreSQL; ADR 0020)",
    )
    admission_limit: int = Field(
        default=64,
        alias="ADMISSION_LIMIT",
        ge=0,
        le=10_000,
        description="requests one process serves at once; past it 503 + Retry-After (0 = off)",
    )
    admission_queue: int | None = Field(
        default=None,
        alias="ADMISSION_QUEUE",
        ge=0,
        le=100_000,
        description="requests that may wait for a slot; past it 503 at once "
        "(default: ADMISSION_LIMIT)",
    )
    admission_wait_seconds: float = Field(
        default=0.5,
        alias="ADMISSION_WAIT_SECONDS",
        ge=0,
        le=30,
        description="how long a request may wait for a free slot before that 503",
    )
    content_two_person_rule: bool = Field(
        default=False,
        alias="CONTENT_TWO_PERSON_RULE",
        description="nobody publishes a question version they wrote (ADR 0026)",
    )
    lean_save: bool = Field(
        default=True,
        alias="LEAN_SAVE",
        description="serve answer saves in one statement on PostgreSQL (ADR 0020)",
    )
    lean_pool_size: int = Field(
        default=10, alias="LEAN_POOL_SIZE", ge=1, le=100, description="its connections per process"
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
    log_requests: bool = Field(
        default=False,
        alias="LOG_REQUESTS",
        description="one JSON line per HTTP request (method, route, status, duration, trace id)",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        pattern=r"^https?://[^\s]{1,300}$",
        description="OTLP/HTTP collector (Tempo: http://tempo:4318); spans go to <it>/v1/traces. "
        "Unset: no spans are made",
    )
    otel_service_name: str | None = Field(
        default=None,
        alias="OTEL_SERVICE_NAME",
        max_length=100,
        description="service.name of the spans (default: certplatform-<role>, certplatform-worker)",
    )
    sweeper_interval: float = Field(
        default=5.0, alias="SWEEPER_INTERVAL", ge=0, description="deadline sweep; 0 = off"
    )
    cleanup_interval: float = Field(
        default=3600.0,
        alias="CLEANUP_INTERVAL",
        ge=0,
        description="seconds between clean-up jobs (old job idempotency keys); 0 = off",
    )
    job_redeliver_seconds: float = Field(
        default=300.0,
        alias="JOB_REDELIVER_SECONDS",
        gt=0,
        le=86_400,
        description="a job a worker took but never finished goes to another worker after "
        "this long (Redis broker); longer than the longest job",
    )
    event_relay_interval: float = Field(
        default=0.5, alias="EVENT_RELAY_INTERVAL", ge=0, description="seconds; 0 = no relay"
    )
    nats_max_deliver: int = Field(
        default=5,
        alias="NATS_MAX_DELIVER",
        ge=1,
        le=100,
        description="deliveries of a failing event before it goes to the dead-letter subject",
    )
    nats_backoff: str = Field(
        default="1,5,30,120",
        alias="NATS_BACKOFF",
        pattern=r"^[0-9.]+(,[0-9.]+)*$",
        description="seconds before each redelivery of a failed event (the last one repeats)",
    )
    nats_partitions: int = Field(
        default=64,
        alias="NATS_PARTITIONS",
        ge=1,
        le=256,
        description="partitions of each event stream by ordering key (one consumer each); "
        "every process must use the same number, change it only with the streams drained",
    )

    mail_backend: Literal["console", "file", "smtp"] = Field(
        default="console",
        alias="MAIL_BACKEND",
        description="console logs each mail, file writes .eml files to MAIL_DIR, smtp sends",
    )
    mail_dir: Path = Field(default=Path("var/mail"), alias="MAIL_DIR")
    mail_from: str = Field(
        default="cert-platform <no-reply@localhost>", alias="MAIL_FROM", max_length=254
    )
    smtp_host: str = Field(default="127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(default=587, alias="SMTP_PORT", ge=1, le=65535)
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=True, alias="SMTP_STARTTLS")
    public_url: str | None = Field(
        default=None,
        alias="PUBLIC_URL",
        description="the site's address in mailed links (https://example.org); required "
        "with MAIL_BACKEND=smtp in production, else the request's own address is used",
    )
    password_reset_minutes: int = Field(
        default=60, alias="PASSWORD_RESET_MINUTES", ge=5, le=24 * 60, description="link lifetime"
    )
    email_change_hours: int = Field(
        default=24, alias="EMAIL_CHANGE_HOURS", ge=1, le=7 * 24, description="link lifetime"
    )
    recovery_limit_ip: str = Field(
        default="20/hour",
        alias="RECOVERY_LIMIT_IP",
        description="password-reset requests per client IP",
    )
    recovery_limit_account: str = Field(
        default="3/hour",
        alias="RECOVERY_LIMIT_ACCOUNT",
        description="reset or address-change mails per account (more are not sent)",
    )

    @field_validator("stun_urls", "turn_urls")
    @classmethod
    def _ice_urls(cls, value: str) -> str:
        for url in split_urls(value):
            if not ICE_URL.match(url):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @field_validator("otel_exporter_otlp_endpoint", "otel_service_name", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return value or None  # OTEL_EXPORTER_OTLP_ENDPOINT= (empty) turns tracing off

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        trusted_networks(value)  # refuse a typo at start-up rather than trust nothing silently
        return value

    @field_validator(
        "login_limit_account_ip",
        "login_limit_account",
        "login_limit_ip",
        "signup_limit_ip",
        "comment_limit_user",
        "report_limit_user",
        "recovery_limit_ip",
        "recovery_limit_account",
        "room_message_limit_user",
    )
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as '5/minute'") from exc
        return value

    @property
    def trusted_proxies(self) -> tuple[IPNetwork, ...]:
        return trusted_networks(self.forwarded_allow_ips)

    audit_key: str = Field(
        default=DEV_AUDIT_KEY,
        alias="AUDIT_KEY",
        description="HMAC key of the audit chain and its checkpoints; keep it out of the database",
    )
    audit_key_id: str = Field(
        default="k1",
        alias="AUDIT_KEY_ID",
        pattern=KEY_ID_PATTERN,
        description="id stored with each new audit entry, naming AUDIT_KEY (change it on rotation)",
    )
    audit_retired_keys: dict[str, str] = Field(
        default_factory=dict,
        alias="AUDIT_RETIRED_KEYS",
        description='earlier audit keys, only to verify older entries: JSON {"k1": "secret"}',
    )
    audit_checkpoint_entries: int = Field(
        default=100,
        alias="AUDIT_CHECKPOINT_ENTRIES",
        ge=1,
        description="publish a signed audit checkpoint after this many new entries",
    )
    audit_checkpoint_minutes: float = Field(
        default=10.0,
        alias="AUDIT_CHECKPOINT_MINUTES",
        gt=0,
        description="publish one at least this often while new entries arrive",
    )
    audit_checkpoint_interval: float = Field(
        default=15.0,
        alias="AUDIT_CHECKPOINT_INTERVAL",
        ge=0,
        description="seconds between checks whether a checkpoint is due; 0 = off",
    )

    calibration_interval: float = Field(
        default=86_400.0,
        alias="CALIBRATION_INTERVAL",
        ge=0,
        description="seconds between item calibrations (IRT parameters from the answer "
        "facts); 0 = off",
    )
    calibration_offset: float = Field(
        default=18 * 3600.0,
        alias="CALIBRATION_OFFSET",
        ge=0,
        le=86_400,
        description="seconds after 00:00 UTC the calibration interval starts (18:00 UTC is "
        "03:00 in Korea: nightly)",
    )
    calibration_model: Literal["2pl", "3pl"] = Field(
        default="2pl",
        alias="CALIBRATION_MODEL",
        description="2pl, or 3pl with the guessing floor 1 / number of choices",
    )

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    @property
    def asyncpg_dsn(self) -> str | None:
        """The database as asyncpg takes it; None when it is not PostgreSQL."""
        url = self.async_database_url
        prefix = "postgresql+asyncpg://"
        return "postgresql://" + url[len(prefix) :] if url.startswith(prefix) else None

    @property
    def cookie_secure(self) -> bool:
        return self.production

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Settings:
        if self.production and self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY must be set in production")
        if self.production and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        if self.production and self.audit_key == DEV_AUDIT_KEY:
            raise ValueError("AUDIT_KEY must be set in production")
        if self.production and len(self.audit_key) < 32:
            raise ValueError("AUDIT_KEY must be at least 32 characters in production")
        if self.production and self.mail_backend == "smtp" and not self.public_url:
            # Links built from the request's Host header could point at another site.
            raise ValueError("PUBLIC_URL must be set to send mail in production")
        if self.production and self.turn_urls and self.turn_secret == DEV_TURN_SECRET:
            # Anyone could mint relay credentials with the published development secret.
            raise ValueError("TURN_SECRET must be set in production when TURN_URLS is")
        if self.production and self.turn_urls and len(self.turn_secret) < 32:
            raise ValueError("TURN_SECRET must be at least 32 characters in production")
        if self.production and self.audit_key == self.secret_key:
            # Whoever learns the cookie key must not also be able to rewrite the audit chain.
            raise ValueError("AUDIT_KEY must differ from SECRET_KEY in production")
        for key_id, key in self.audit_retired_keys.items():
            if not re.fullmatch(KEY_ID_PATTERN, key_id):
                raise ValueError(f"AUDIT_RETIRED_KEYS: {key_id!r} is not a valid key id")
            if key_id == self.audit_key_id and key != self.audit_key:
                raise ValueError(f"AUDIT_RETIRED_KEYS names {key_id!r}, the id of AUDIT_KEY")
        return self


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(spec: str) -> tuple[IPNetwork, ...]:
    """Parse FORWARDED_ALLOW_IPS ('10.0.0.1, 172.16.0.0/12'); a bad entry raises ValueError."""
    return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())


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


def split_urls(value: str) -> list[str]:
    """A comma-separated list of URLs, without blanks."""
    return [url.strip() for url in value.split(",") if url.strip()]
