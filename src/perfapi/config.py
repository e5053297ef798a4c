"""Settings, read from the environment (prefix ``PERFAPI_``) once by the CLI or by tests.

Nothing in perfapi reads the environment at import time: ``create_app`` and the CLI
receive a :class:`Settings` instance and pass it down.
"""

from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from perfapi.vault.keys import VaultError, parse_key

LogLevel = Literal["debug", "info", "warning", "error"]

MIB = 1024 * 1024


class Settings(BaseSettings):
    # hide_input_in_errors: a bad value is never echoed (it may be a key or a password).
    model_config = SettingsConfigDict(
        env_prefix="PERFAPI_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started in data_dir.",
    )
    data_dir: Path = Field(default=Path(".perfapi"), description="Embedded PostgreSQL data.")
    read_database_url: str | None = Field(
        default=None,
        description="A streaming replica of database_url: reports, series, forecasts, insights "
        "and their exports read from it while it keeps up. Unset: everything reads the primary.",
    )
    read_max_lag_seconds: float = Field(
        default=5.0,
        ge=0,
        description="A replica further behind the primary than this, or down, is passed over: "
        "its reads are served by the primary until it catches up.",
    )
    read_lag_check_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often the replica's lag and health are measured; 0 turns the "
        "background check off (for tests: a replica once found down is then not tried again).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes sharing the port; background work runs in each, "
        "without duplicates.",
    )
    demo: bool = Field(
        default=False,
        description="On the first start (an empty database), `serve` also fills the new "
        "org with the demo data (`perfapi demo`), so the console has something to show.",
    )
    log_level: LogLevel = "info"
    log_json: bool = Field(default=True, description="One JSON object per log line.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS, comma separated; '*' allows any.",
    )
    max_body_bytes: int = Field(default=1 * MIB, gt=0, description="Limit for JSON bodies.")
    max_ingest_body_bytes: int = Field(
        default=512 * MIB, gt=0, description="Limit for point ingestion bodies."
    )
    max_points_json_bytes: int = Field(
        default=64 * MIB,
        gt=0,
        description="Limit for JSON bodies on /v1/points, which are held in memory.",
    )
    large_points_json_bytes: int = Field(
        default=4 * MIB,
        gt=0,
        description="JSON bodies on /v1/points larger than this, or sent without "
        "Content-Length, wait for one of large_points_json_slots before being read.",
    )
    large_points_json_slots: int = Field(
        default=2,
        ge=1,
        description="How many large JSON bodies on /v1/points one process reads and "
        "parses at a time (each costs about twice its size); the others wait unread.",
    )
    idempotency_retention_hours: int = Field(
        default=24, ge=24, description="How long Idempotency-Key replies are kept."
    )
    event_retention_days: int = Field(
        default=30, ge=1, le=3650, description="How long the event log keeps events."
    )
    audit_retention_days: int = Field(
        default=365, ge=1, le=36_500, description="How long the audit log keeps entries."
    )
    derived_events_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often orgs whose data changed are evaluated for derived events; 0 turns "
        "the background task off.",
    )
    event_stream_heartbeat_seconds: float = Field(
        default=15.0, gt=0, le=300, description="How often an idle event stream sends a comment."
    )
    webhook_delivery_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often webhook senders look for due deliveries when no event wakes "
        "them; 0 turns outbound webhook delivery off.",
    )
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(5.0, 60.0, 600.0, 3600.0, 21600.0, 86400.0),
        description="Seconds to wait before each retry of a failed delivery, comma-separated; "
        "each wait gets up to 10% jitter either way.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long a receiver has to answer a delivery."
    )
    webhook_disable_after_seconds: float = Field(
        default=3 * 86_400.0,
        gt=0,
        description="An endpoint whose attempts have all failed for this long is disabled.",
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow endpoint URLs that resolve to loopback, private or link-local "
        "addresses (a receiver on the same machine or network).",
    )
    webhook_senders: int = Field(
        default=16, ge=1, le=256, description="Deliveries each process sends at once."
    )
    forecast_models_kept: int = Field(
        default=1_000,
        ge=0,
        description="Fitted forecasting models kept per process (about 150 KB each); "
        "0 fits every model anew.",
    )
    rollup_refresh_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often rollups are brought up to date; 0 turns the background task off.",
    )
    rollup_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Failed tries of a rollup change before it is parked until "
        "`perfapi rollups retry`.",
    )
    rollup_retry_base_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Wait after a rollup change's first failed try; it doubles with each further "
        "failure.",
    )
    rollup_retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between tries of a failing rollup change."
    )
    points_partition_maintenance_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the monthly partitions of points are made ahead and, with "
        "points_retention_days, dropped; 0 turns the background task off (partitions are "
        "still made as points arrive).",
    )
    points_partitions_ahead: int = Field(
        default=3,
        ge=0,
        le=120,
        description="Months after the current one whose partitions are made ahead of time.",
    )
    points_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=1_200_000,
        description="Points are kept at least this long, in whole UTC months: a month's "
        "partition is dropped, with its rollups, once all of it is older. Unset: kept forever.",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="The identity provider's issuer, exactly as in its tokens' `iss` claim. "
        "Set with jwt_audience and one of jwt_jwks_url or jwt_jwks_file to accept JWT bearer "
        "tokens besides API keys.",
    )
    jwt_audience: str | None = Field(
        default=None, description="The `aud` value a token must carry to be accepted."
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        description="Where the provider publishes its JSON Web Key Set: https, or http to a "
        "loopback address only.",
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="A JSON Web Key Set in a file, instead of jwt_jwks_url."
    )
    jwt_org_claim: str = Field(
        default="org", min_length=1, description="The claim holding the name of the caller's org."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes: the key that encrypts stored webhook secrets "
        "(`perfapi secrets generate-key` makes one). Unset: a key file in data_dir, created at "
        "first start.",
    )
    secret_keys_previous: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Older keys, comma-separated, still accepted for decryption (during a "
        "rotation); needs secret_key.",
    )
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    rate_limit_per_minute: int = Field(
        default=6000,
        ge=1,
        le=1_000_000,
        description="Requests per minute per caller (API key or JWT subject) for keys without "
        "their own rate_limit_per_minute; a burst of a whole minute's allowance passes.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis (redis://host:6379/0) shared by every process and replica for rate "
        "limits. Unset: each process counts on its own.",
    )
    redis_key_prefix: str = Field(
        default="perfapi:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key perfapi writes (<prefix>ratelimit:...).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            waits = [float(wait) for wait in value.split(",") if wait.strip()]
            if any(not 0 <= wait <= 7 * 86_400 for wait in waits):
                raise ValueError("each wait must be from 0 to 604800 seconds")
            return tuple(waits)
        return value

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _use_asyncpg_driver(cls, value: str | None) -> str | None:
        """Accept the usual ``postgresql://`` and ``postgres://`` forms as well."""
        if value is None or value == "":
            return None
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+asyncpg://" + value[len(plain) :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a PostgreSQL URL (postgresql://...)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        """Refused at start rather than by the first request that asks Redis."""
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL (redis://host:6379/0, rediss://, unix://)")
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _checked_key(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            _parsed_key(value, "PERFAPI_SECRET_KEY")
        return value

    @field_validator("secret_keys_previous", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            keys = [key.strip() for key in value.split(",") if key.strip()]
            for key in keys:
                _parsed_key(key, "each of PERFAPI_SECRET_KEYS_PREVIOUS")
            return keys
        return value

    @field_validator("points_retention_days", mode="before")
    @classmethod
    def _empty_retention_keeps_all(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _previous_keys_need_a_key(self) -> Self:
        if self.secret_keys_previous and self.secret_key is None:
            raise ValueError("PERFAPI_SECRET_KEYS_PREVIOUS needs PERFAPI_SECRET_KEY")
        return self

    @field_validator("jwt_issuer", "jwt_audience", "jwt_jwks_url", "jwt_jwks_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _jwt_all_or_nothing(self) -> Self:
        check_jwt_settings(self)
        return self


def _parsed_key(text: str, what: str) -> bytes:
    try:
        return parse_key(text, what)
    except VaultError as exc:
        raise ValueError(str(exc)) from None


def check_jwt_settings(settings: Settings) -> None:
    """JWT bearer tokens are configured completely or not at all.

    Also called by ``create_app``: settings made with ``model_copy`` skip validators.
    """
    required = {
        "PERFAPI_JWT_ISSUER": settings.jwt_issuer,
        "PERFAPI_JWT_AUDIENCE": settings.jwt_audience,
    }
    sources = [s for s in (settings.jwt_jwks_url, settings.jwt_jwks_file) if s is not None]
    if not any(required.values()) and not sources:
        return
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"JWT bearer tokens also need {' and '.join(missing)}")
    if len(sources) != 1:
        raise ValueError(
            "JWT bearer tokens need exactly one of PERFAPI_JWT_JWKS_URL and PERFAPI_JWT_JWKS_FILE"
        )
    if settings.jwt_jwks_url is not None:
        _check_jwks_url(settings.jwt_jwks_url)


def _check_jwks_url(url: str) -> None:
    """https only: the key set decides who may call. Plain http is allowed to a loopback
    address, where nothing travels over a network (a sidecar, or tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ValueError("PERFAPI_JWT_JWKS_URL must be an https URL (http only to a loopback address)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
