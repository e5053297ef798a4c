"""Settings, read from the environment (prefix ``PERFAPI_``) once by the CLI or by tests.

Nothing in perfapi reads the environment at import time: ``create_app`` and the CLI
receive a :class:`Settings` instance and pass it down.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]

MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFAPI_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started in data_dir.",
    )
    data_dir: Path = Field(default=Path(".perfapi"), description="Embedded PostgreSQL data.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
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
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

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

    @field_validator("database_url")
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
