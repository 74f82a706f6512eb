"""Settings: the only reader of the environment.

Every setting has a working embedded default, so ``make run`` needs nothing. Secrets
that are unset are generated once into the instance folder (mode 0600), so a restart
keeps sessions and sealed keys valid. ``check_settings`` stops start-up on a value that
is unsafe in production.
"""

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(RuntimeError):
    """A setting is missing, malformed or unsafe; the message is one line for the operator."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def _str(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip()


def _instance_folder(instance_path: str) -> Path:
    """The instance folder, created private (0700): it holds the secrets and the SQLite database."""
    folder = Path(instance_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists, before a library creates it 0644.

    SQLite gives its journal and WAL files the mode of the database file, so they stay private too.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _instance_secret(instance_path: str, name: str) -> str:
    """Read a generated secret from the instance folder, creating it (mode 0600) once."""
    path = _instance_folder(instance_path) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start together, one writes and the other reads its value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def load_settings(env: Mapping[str, str]) -> dict:
    """Read every setting from the environment, with the embedded defaults."""
    environment = _str(env, "APP_ENV", None) or _str(env, "FLASK_ENV", None) or "development"
    mail_server = _str(env, "MAIL_SERVER", None)
    return {
        # "production" turns the start-up safety checks on (APP_ENV, or FLASK_ENV).
        "APP_ENV": environment.lower(),
        # Signs the browser state cookie (CSRF token, flash messages); unset: generated once.
        "SECRET_KEY": _str(env, "SECRET_KEY", None),
        # Derives the key that seals private signing keys at rest; unset: generated once.
        "KEY_ENCRYPTION_SECRET": _str(env, "KEY_ENCRYPTION_SECRET", None),
        # The database; unset: SQLite in the instance folder. PostgreSQL in production.
        "DATABASE_URL": _str(env, "DATABASE_URL", None),
        # Redis for rate limits, caches and change notices; unset: in-process stores.
        "REDIS_URL": _str(env, "REDIS_URL", None),
        # The issuer identifier: the public base URL of this server.
        "ISSUER": _str(env, "ISSUER", "http://localhost:5000"),
        # Outgoing mail; with no MAIL_SERVER, mails are written to the log.
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int(env, "MAIL_PORT", 25, 1),
        "MAIL_USE_TLS": _bool(env, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool(env, "MAIL_USE_SSL", False),
        "MAIL_USERNAME": _str(env, "MAIL_USERNAME", None),
        "MAIL_PASSWORD": _str(env, "MAIL_PASSWORD", None),
        "MAIL_DEFAULT_SENDER": _str(env, "MAIL_DEFAULT_SENDER", "no-reply@localhost"),
        # Mail goes out after the request, from a queue of at most MAIL_QUEUE_SIZE messages per
        # process; at exit the process waits up to MAIL_FLUSH_TIMEOUT seconds for what is queued.
        "MAIL_QUEUE_SIZE": _int(env, "MAIL_QUEUE_SIZE", 1000, 1),
        "MAIL_FLUSH_TIMEOUT": _int(env, "MAIL_FLUSH_TIMEOUT", 10, 0),
        # The super admin `flask bootstrap` creates; unset password: generated, printed once.
        "SUPERADMIN_EMAIL": (_str(env, "SUPERADMIN_EMAIL", "admin@admin.com") or "").lower(),
        "SUPERADMIN_PASSWORD": _str(env, "SUPERADMIN_PASSWORD", None),
        # Whether anyone may register an account.
        "PUBLIC_REGISTRATION": _bool(env, "PUBLIC_REGISTRATION", True),
        # Unverified users cannot sign in.
        "EMAIL_VERIFICATION_REQUIRED": _bool(env, "EMAIL_VERIFICATION_REQUIRED", True),
        # Every sign-in needs an emailed code.
        "EMAIL_2FA_REQUIRED": _bool(env, "EMAIL_2FA_REQUIRED", False),
        # Phone verification and mobile 2FA.
        "MOBILE_ENABLED": _bool(env, "MOBILE_ENABLED", False),
        # Token lifetimes, in seconds.
        "ACCESS_TOKEN_TTL": _int(env, "ACCESS_TOKEN_TTL", 900, 1),
        "REFRESH_TOKEN_TTL": _int(env, "REFRESH_TOKEN_TTL", 30 * 86400, 1),
        # A session ends after this many seconds without a request...
        "SESSION_IDLE_TTL": _int(env, "SESSION_IDLE_TTL", 1800, 60),
        # ...and this many seconds after sign-in in any case.
        "SESSION_MAX_TTL": _int(env, "SESSION_MAX_TTL", 36000, 60),
        # A session's last_seen_at is written at most once per this many seconds.
        "SESSION_TOUCH_INTERVAL": _int(env, "SESSION_TOUCH_INTERVAL", 60, 1),
        "ID_TOKEN_TTL": _int(env, "ID_TOKEN_TTL", 3600, 1),
        # The aud of access tokens: the identifier resource servers check; unset: the ISSUER.
        "ACCESS_TOKEN_AUDIENCE": _str(env, "ACCESS_TOKEN_AUDIENCE", None),
        # PKCE (S256) for confidential clients too; public clients always need it.
        "PKCE_REQUIRED_FOR_CONFIDENTIAL": _bool(env, "PKCE_REQUIRED_FOR_CONFIDENTIAL", True),
        # How often, in seconds, a process checks the database for changed applications.
        "CLIENT_CACHE_CHECK_INTERVAL": _int(env, "CLIENT_CACHE_CHECK_INTERVAL", 5, 0),
        # How long, in seconds, a process keeps a client's keys fetched from its jwks_uri.
        "CLIENT_JWKS_TTL": _int(env, "CLIENT_JWKS_TTL", 300, 0),
        # The furthest, in seconds, a client assertion (private_key_jwt, client_secret_jwt) may expire.
        "CLIENT_ASSERTION_MAX_LIFETIME": _int(env, "CLIENT_ASSERTION_MAX_LIFETIME", 3600, 1),
        # How long, in seconds, a user (profile, roles, permissions) stays in the user cache; 0: no cache.
        "USER_CACHE_TTL": _int(env, "USER_CACHE_TTL", 10, 0),
        # How many users each process keeps in its user cache.
        "USER_CACHE_SIZE": _int(env, "USER_CACHE_SIZE", 10000, 1),
        # How many resolved sign-in sessions each process keeps (app/services/sessions.py); 0: none.
        "SESSION_CACHE_SIZE": _int(env, "SESSION_CACHE_SIZE", 10000, 0),
        # How long, in seconds, a process serves a session from its cache before reading it again (the
        # longest a change whose notice was lost goes unseen); 0: no cache.
        "SESSION_CACHE_TTL": _int(env, "SESSION_CACHE_TTL", 10, 0),
        # How often, in seconds, each process's denylist reads new revocations from the database should
        # a change notice not arrive; 0: before every check.
        "DENYLIST_SYNC_INTERVAL": _int(env, "DENYLIST_SYNC_INTERVAL", 10, 0),
        # Back-channel logout notices: a delivery thread per process (off: queued, not sent), and how
        # often, in seconds, it looks for notices due (retries, or queued by a process that stopped).
        "BACKCHANNEL_LOGOUT_WORKER": _bool(env, "BACKCHANNEL_LOGOUT_WORKER", True),
        "BACKCHANNEL_LOGOUT_POLL_INTERVAL": _int(env, "BACKCHANNEL_LOGOUT_POLL_INTERVAL", 15, 1),
        # Verification codes: digits, lifetimes (email, SMS), resend window, wrong tries allowed.
        "CODE_LENGTH": _int(env, "CODE_LENGTH", 6, 4),
        "EMAIL_CODE_TTL": _int(env, "EMAIL_CODE_TTL", 86400, 60),
        "MOBILE_CODE_TTL": _int(env, "MOBILE_CODE_TTL", 300, 60),
        "CODE_RESEND_WINDOW": _int(env, "CODE_RESEND_WINDOW", 60, 0),
        "CODE_MAX_ATTEMPTS": _int(env, "CODE_MAX_ATTEMPTS", 5, 1),
        # Signing keys: rotation period and algorithm (RS256 or ES256).
        "KEY_ROTATION_DAYS": _int(env, "KEY_ROTATION_DAYS", 30, 1),
        "SIGNING_ALG": (_str(env, "SIGNING_ALG", "RS256") or "").upper(),
        # How long verifiers may cache the JWKS; a new key is published this long before it signs.
        "JWKS_MAX_AGE": _int(env, "JWKS_MAX_AGE", 3600, 0),
        # How often a process checks the database for key ring changes, in seconds.
        "KEY_RING_CHECK_INTERVAL": _int(env, "KEY_RING_CHECK_INTERVAL", 10, 0),
        # Reverse proxies in front of the server whose X-Forwarded-* headers are trusted.
        "TRUSTED_PROXY_HOPS": _int(env, "TRUSTED_PROXY_HOPS", 0),
        # Passwords: argon2id cost (OWASP: 19 MiB, 2 passes, 1 lane); minimum zxcvbn score (0-4).
        "PASSWORD_ARGON2_MEMORY_KIB": _int(env, "PASSWORD_ARGON2_MEMORY_KIB", 19456, 1024),
        "PASSWORD_ARGON2_TIME_COST": _int(env, "PASSWORD_ARGON2_TIME_COST", 2, 1),
        "PASSWORD_ARGON2_PARALLELISM": _int(env, "PASSWORD_ARGON2_PARALLELISM", 1, 1),
        "PASSWORD_MIN_SCORE": _int(env, "PASSWORD_MIN_SCORE", 3),
        # Brute-force limits on password checks: every attempt per IP, failures per account.
        "LOGIN_RATE_LIMIT_IP": _str(env, "LOGIN_RATE_LIMIT_IP", "30 per minute"),
        "LOGIN_RATE_LIMIT_ACCOUNT": _str(env, "LOGIN_RATE_LIMIT_ACCOUNT", "10 per 15 minutes"),
        # Requests per client IP to views that send a mail or a text (registration, resends, reset).
        "MAIL_RATE_LIMIT_IP": _str(env, "MAIL_RATE_LIMIT_IP", "5 per minute;30 per hour"),
        # The largest request body any endpoint reads, in bytes (larger: 413).
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1048576, 1024),
    }


def derive_settings(config: dict, instance_path: str) -> None:
    """Fill in generated secrets and the Flask and extension settings the primary ones imply."""
    for name in ("SECRET_KEY", "KEY_ENCRYPTION_SECRET"):
        config[f"{name}_GENERATED"] = not config.get(name)
        if not config.get(name):
            config[name] = _instance_secret(instance_path, name.lower())
    config["ISSUER"] = (config["ISSUER"] or "").rstrip("/")
    https = urlsplit(config["ISSUER"]).scheme == "https"
    config["ISSUER_IS_HTTPS"] = https
    database_url = _database_url(config["DATABASE_URL"], instance_path)
    redis_url = config["REDIS_URL"]
    config.update({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "MAIL_SUPPRESS_SEND": not config["MAIL_SERVER"],
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2} if redis_url else {},
        # No X-RateLimit-* counters: answers must not differ by what was tried before (the 429
        # itself carries Retry-After, app/errors.py).
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_KEY_PREFIX": "idp-rl",
        # With Redis down, sign-in stays limited per process instead of failing.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_IN_MEMORY_FALLBACK": config["LOGIN_RATE_LIMIT_IP"],
        # Flask's own signed cookie carries only the CSRF secret and flash messages.
        "SESSION_COOKIE_NAME": "__Host-state" if https else "state",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
    })


def _database_url(url: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL; plain postgres(ql):// means the psycopg2 driver the project ships."""
    if not url:
        path = _instance_folder(instance_path) / "idp.sqlite3"
        _private_file(path)
        return "sqlite:///" + str(path)
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg2{sep}{rest}"
    return url


def _engine_options(database_url: str) -> dict:
    """Pool settings. No ping per checkout (a round trip on every request): a connection the server
    closed is recognised without one when it is taken from the pool (``app/extensions.py``), TCP
    keepalives make a peer that vanished without closing show as closed too, and connections are
    renewed every half hour."""
    if database_url.startswith("sqlite"):
        return {}
    options: dict = {"pool_recycle": 1800}
    if database_url.startswith("postgresql"):
        # libpq: probe an idle connection after 30 s, every 10 s, give up after 3 unanswered probes.
        options["connect_args"] = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 30,
                                   "keepalives_interval": 10, "keepalives_count": 3}
    return options


def is_production(config: Mapping) -> bool:
    return config.get("APP_ENV") == "production"


def check_settings(config: Mapping) -> None:
    """Refuse to start on a value that is invalid anywhere or unsafe in production."""
    issuer = urlsplit(config["ISSUER"])
    if issuer.scheme not in ("http", "https") or not issuer.netloc or issuer.query or issuer.fragment:
        raise SettingsError(f"ISSUER must be an http(s) URL without query or fragment, not {config['ISSUER']!r}")
    if config["SIGNING_ALG"] not in ("RS256", "ES256"):
        raise SettingsError(f"SIGNING_ALG must be RS256 or ES256, not {config['SIGNING_ALG']!r}")
    if config["JWKS_MAX_AGE"] >= config["KEY_ROTATION_DAYS"] * 86400:
        raise SettingsError("JWKS_MAX_AGE must be shorter than KEY_ROTATION_DAYS")
    if config["SESSION_IDLE_TTL"] > config["SESSION_MAX_TTL"]:
        raise SettingsError("SESSION_IDLE_TTL must not exceed SESSION_MAX_TTL")
    if not is_production(config):
        return
    if issuer.scheme != "https":
        raise SettingsError("ISSUER must be an https URL in production")
    if config.get("SECRET_KEY_GENERATED"):
        raise SettingsError("SECRET_KEY must be set in production (every instance needs the same one)")
    if config.get("KEY_ENCRYPTION_SECRET_GENERATED"):
        raise SettingsError("KEY_ENCRYPTION_SECRET must be set in production (every instance needs the same one)")
    if not config.get("MAIL_SERVER"):
        raise SettingsError("MAIL_SERVER must be set in production (without it, codes are written to the log)")
    for name in ("SECRET_KEY", "KEY_ENCRYPTION_SECRET"):
        if len(config[name]) < 32:
            raise SettingsError(f"{name} must be at least 32 characters in production")
