"""Settings: one cached object read from the environment (no secrets in code)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _secret_key(data_dir: Path) -> str:
    """Use CAREBOOK_SECRET_KEY, else a random key kept in the data folder across restarts."""
    if key := os.environ.get("CAREBOOK_SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    secret_key: str
    base_url: str
    debug: bool
    # Public rate limits: requests per minute per client address.
    hold_rate_per_minute: int = 30
    booking_rate_per_minute: int = 20
    login_rate_per_minute: int = 10
    read_rate_per_minute: int = 300  # public catalog, calendar and slots reads
    stream_rate_per_minute: int = 60  # opening live-update streams (reconnects count)
    sign_in_rate_per_minute: int = 5  # patients asking for a magic sign-in link
    # How long a subscriber may fall behind before it is told to resync.
    sse_queue_size: int = 1000
    sse_heartbeat_seconds: float = 15.0
    event_retention_hours: int = 48
    hold_sweep_seconds: float = 0.5
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    base_url_configured: bool = False
    """CAREBOOK_BASE_URL was set: links use it, whatever host a request came by."""
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    log_format: str = "plain"  # or "json": one JSON object per line
    log_level: str = "INFO"

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("CAREBOOK_DATA_DIR", PROJECT_ROOT / ".carebook"))
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
            secret_key=_secret_key(data_dir),
            base_url=(os.environ.get("CAREBOOK_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            debug=os.environ.get("CAREBOOK_DEBUG", "") == "1",
            hold_rate_per_minute=_int("CAREBOOK_HOLD_RATE", 30),
            booking_rate_per_minute=_int("CAREBOOK_BOOKING_RATE", 20),
            login_rate_per_minute=_int("CAREBOOK_LOGIN_RATE", 10),
            read_rate_per_minute=_int("CAREBOOK_READ_RATE", 300),
            stream_rate_per_minute=_int("CAREBOOK_STREAM_RATE", 60),
            sign_in_rate_per_minute=_int("CAREBOOK_SIGN_IN_RATE", 5),
            sse_queue_size=_int("CAREBOOK_SSE_QUEUE", 1000),
            sse_heartbeat_seconds=float(os.environ.get("CAREBOOK_SSE_HEARTBEAT_SECONDS") or 15),
            event_retention_hours=_int("CAREBOOK_EVENT_RETENTION_HOURS", 48),
            log_format="json" if os.environ.get("CAREBOOK_LOG_FORMAT") == "json" else "plain",
            log_level=os.environ.get("CAREBOOK_LOG_LEVEL", "INFO").upper(),
            trusted_proxies=tuple(
                p for p in os.environ.get("CAREBOOK_TRUSTED_PROXIES", "").split(",") if p
            ),
            base_url_configured=bool(os.environ.get("CAREBOOK_BASE_URL")),
            allowed_hosts=tuple(
                h.strip().lower()
                for h in os.environ.get("CAREBOOK_ALLOWED_HOSTS", "").split(",")
                if h.strip()
            ),
        )


def direct_database_url() -> str:
    """PostgreSQL itself, for session-level work that a transaction-mode pooler (PgBouncer)
    would break: the events LISTEN connection, migrations' session advisory lock, event
    retention's lock, pg_dump/pg_restore. ``CAREBOOK_DIRECT_DATABASE_URL``, else
    ``DATABASE_URL`` (no pooler in between)."""
    return os.environ.get("CAREBOOK_DIRECT_DATABASE_URL") or os.environ["DATABASE_URL"]


def behind_pgbouncer() -> bool:
    """``CAREBOOK_PGBOUNCER=1``: DATABASE_URL is PgBouncer in transaction mode, so pooled
    connections must not keep named prepared statements (asyncpg's statement cache is off;
    PgBouncer 1.18 of Debian 12 cannot track them, ``max_prepared_statements`` needs 1.21)."""
    return os.environ.get("CAREBOOK_PGBOUNCER", "") in ("1", "true", "yes")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
