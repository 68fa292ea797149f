"""Configuration: safe defaults, overridden by ``DNP_*`` environment variables."""

from __future__ import annotations

import os

DEFAULTS = {
    "ENV": "production",
    "DATABASE_URL": "sqlite:///instance/dnp.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": None,
    "INGEST_TOKEN": None,
    "INGEST_MAX_BYTES": 20 * 1024 * 1024,
    "SS12000_LOCATION": "http://127.0.0.1:5000/ss12000",
    "SS12000_JWKS_URL": "https://nutid-auth.sunet.se/.well-known/jwks.json",
    "SS12000_ISSUER": "https://nutid-auth.sunet.se",
    "SS12000_AUDIENCE": "nutid",
    "SS12000_ORGANIZATION_ID": "SE2021004185",
    "AUTH_SERVER_URL": "https://nutid-auth.sunet.se/transaction",
    "AUTH_CLIENT_KEY": None,
    "TLS_CLIENT_CERT": None,
    "TLS_CLIENT_KEY": None,
    "TLS_CA_BUNDLE": None,
    "WEBHOOK_CLIENT_LOCATION": "https://api.skolverket.se/provtjanst/ss12000/klient/v1",
    "WEBHOOK_ALLOWED_TARGETS": "",
    "WEBHOOK_COALESCE_SECONDS": 5,
    "SUBSCRIPTION_DAYS": 90,
    "OPEN_DATA_URL": "https://api.skolverket.se/provtjanst/open-data/v1",
    "JOBS_INLINE": False,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 10,
}

# Keys whose environment value must be turned into an int.
INT_KEYS = {
    "INGEST_MAX_BYTES",
    "WEBHOOK_COALESCE_SECONDS",
    "SUBSCRIPTION_DAYS",
    "SESSION_IDLE_MINUTES",
    "SESSION_MAX_HOURS",
}


BOOL_KEYS = {"JOBS_INLINE"}


def from_environment(environ: os._Environ | dict | None = None) -> dict:
    """Return the configuration mapping built from defaults and ``DNP_*`` variables."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key, value in environ.items():
        if not key.startswith("DNP_"):
            continue
        name = key[4:]
        if name in INT_KEYS:
            config[name] = int(value)
        elif name in BOOL_KEYS:
            config[name] = value.strip().lower() in ("1", "true", "yes", "on")
        else:
            config[name] = value
    return config


def ingest_tokens(raw: str | None) -> dict[str, str]:
    """Parse ``DNP_INGEST_TOKEN`` into {token: name}.

    Either one plain token (named ``sis``) or comma-separated ``name:token`` pairs,
    so that each feed's writes are audited under its own name.
    """
    if not raw:
        return {}
    tokens: dict[str, str] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, token = part.partition(":")
        if sep and name and token:
            tokens[token] = name
        else:
            tokens[part] = "sis"
    return tokens
