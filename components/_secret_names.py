"""Decides whether an environment variable or ConfigMap key name looks like it holds a secret.

Shared by the app args (which refuse such names in plain `env`) and the policy pack (which refuses
them in any workload or ConfigMap a stack declares).
"""

from __future__ import annotations

import re

__all__ = ["looks_secret"]

# Whole words (after splitting on separators and camelCase) that name a secret by themselves.
# Deliberately absent: PWD (the shell's working directory), AUTH (AUTH_URL, AUTH_MODE are
# settings), PRIVATE (PRIVATE_SUBNETS): each would flag ordinary settings.
_SECRET_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASSPHRASE",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "KEY",
        "KEYS",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "DSN",
    }
)

# A connection URL to a data store usually embeds the password (postgres://user:pw@host/db).
_STORES = frozenset(
    {
        "DATABASE",
        "DB",
        "PG",
        "POSTGRES",
        "POSTGRESQL",
        "MYSQL",
        "MONGO",
        "MONGODB",
        "REDIS",
        "AMQP",
        "RABBITMQ",
        "BROKER",
        "CELERY",
    }
)

# A last word that turns a secret word into the name of something else: where the secret lives
# (AWS_WEB_IDENTITY_TOKEN_FILE), which one it is (KMS_KEY_ID, SECRET_NAME), or a setting about it
# (TOKEN_TTL, TOKEN_URL of an OAuth server).
_QUALIFIERS = frozenset(
    {
        "FILE",
        "PATH",
        "DIR",
        "NAME",
        "ID",
        "ARN",
        "REF",
        "TTL",
        "TIMEOUT",
        "EXPIRY",
        "LENGTH",
        "SIZE",
        "TYPE",
        "ALGORITHM",
        "ROTATION",
        "ENABLED",
        "URL",
        "URI",
        "ENDPOINT",
        "HOST",
        "PORT",
    }
)

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def _words(name: str) -> list[str]:
    return [w.upper() for w in _SEPARATORS.split(_CAMEL.sub(r"\1_\2", name)) if w]


def looks_secret(name: str) -> bool:
    """True when `name` (an env var or a ConfigMap key) reads like a credential.

    `DB_PASSWORD`, `apiKey`, `tls.key`, `DATABASE_URL` and `SENTRY_DSN` do; `KMS_KEY_ID`,
    `AWS_WEB_IDENTITY_TOKEN_FILE`, `TOKEN_URL` and `JWT_PUBLIC_KEY` do not.
    """
    words = _words(name)
    if not words:
        return False
    if "CONNECTION" in words and "STRING" in words:
        return True
    if len(words) >= 2 and words[-1] in {"URL", "URI"} and words[-2] in _STORES:
        return True
    if words[-1] in _QUALIFIERS:
        return False
    secret = _SECRET_WORDS.intersection(words)
    # A public key is published on purpose; only the bare word KEY is excused by it.
    if secret <= {"KEY", "KEYS"} and "PUBLIC" in words:
        return False
    return bool(secret)
