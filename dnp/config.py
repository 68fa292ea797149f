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
    # Largest body of a page form or SAML post (a signed, encrypted SAML Response is ~100 KB), and
    # of the certificate upload; larger gets 413 before the body is read.
    "FORM_MAX_BYTES": 512 * 1024,
    "UPLOAD_MAX_BYTES": 1024 * 1024,
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
    "WEBHOOK_TIME_SCALE": 1.0,
    "WEBHOOK_TIMEOUT": 10.0,
    "WEBHOOK_RESTAMP_AFTER": 240.0,
    "SUBSCRIPTION_DAYS": 90,
    # Push (Skolverket's Provisioning API): base URL, the location asked for in the token (default: the
    # URL), write and status calls per any second across all workers, largest request body.
    "PROVISIONING_URL": "https://api.skolverket.se/provtjanst/provisioning/v1",
    "PROVISIONING_LOCATION": None,
    "PROVISIONING_RATE": 5,
    "PROVISIONING_MAX_BYTES": 200_000,
    "PROVISIONING_TIMEOUT": 10.0,
    "PROVISIONING_POLL_SECONDS": 2.0,
    # Page size of the SS 12000 list endpoints when the client sends no limit, and the largest allowed.
    "SS12000_PAGE_DEFAULT": 1000,
    "SS12000_PAGE_MAX": 10000,
    "OPEN_DATA_URL": "https://api.skolverket.se/provtjanst/open-data/v1",
    "JOBS_INLINE": False,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 10,
    # SAML sign-in through Skolfederation (all required in production, see dnp.auth.saml.sp):
    # DNP's public https:// address; ACS, SLS and (by default) the entity id are derived from it.
    "SAML_SP_BASE_URL": None,
    # Our SP entity id (default: <SAML_SP_BASE_URL>/saml/metadata).
    "SAML_SP_ENTITY_ID": None,
    # PEM files of our SP certificate and private key (published in our metadata; decrypt, sign logout).
    "SAML_SP_CERT": None,
    "SAML_SP_KEY": None,
    # IdP metadata or a federation aggregate: a file path or an http(s) URL (URL needs the cert below).
    "SAML_IDP_METADATA": None,
    # Entity id of our IdP; required when the metadata holds more than one IdP.
    "SAML_IDP_ENTITY_ID": None,
    # PEM file of the federation's metadata signing certificate; when set the signature is required.
    "SAML_FEDERATION_CERT": None,
    # Most sign-ins begun but not finished that are kept (each anonymous GET /saml/login adds one;
    # the oldest are dropped beyond this, and all after 10 minutes).
    "SAML_MAX_OPEN_REQUESTS": 10000,
    # Seconds parsed metadata is reused before it is read again.
    "SAML_METADATA_TTL": 3600,
    # Contact (a role mailbox) and organisation shown in our SP metadata.
    "SAML_CONTACT_EMAIL": None,
    "SAML_ORGANIZATION_NAME": None,
    "SAML_ORGANIZATION_URL": None,
}

# Keys whose environment value must be turned into an int.
INT_KEYS = {
    "INGEST_MAX_BYTES",
    "FORM_MAX_BYTES",
    "UPLOAD_MAX_BYTES",
    "SUBSCRIPTION_DAYS",
    "PROVISIONING_RATE",
    "PROVISIONING_MAX_BYTES",
    "SS12000_PAGE_DEFAULT",
    "SS12000_PAGE_MAX",
    "SESSION_IDLE_MINUTES",
    "SESSION_MAX_HOURS",
    "SAML_METADATA_TTL",
    "SAML_MAX_OPEN_REQUESTS",
}


BOOL_KEYS = {"JOBS_INLINE"}
FLOAT_KEYS = {
    "WEBHOOK_TIME_SCALE",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_COALESCE_SECONDS",
    "WEBHOOK_RESTAMP_AFTER",
    "PROVISIONING_TIMEOUT",
    "PROVISIONING_POLL_SECONDS",
}


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
        elif name in FLOAT_KEYS:
            config[name] = float(value)
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
