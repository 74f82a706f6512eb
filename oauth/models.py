"""The protocol's tables: applications (clients), users' grants to them, codes and tokens.

No secret or token is stored as issued: client secrets, codes and refresh tokens are kept as
SHA-256 digests (they carry 256 random bits, so a fast hash is right). Access tokens are not
stored at all: only their revocations are (``TokenRevocation``).
"""

import hashlib
import hmac
import uuid
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import Uuid
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.clock import now
from app.extensions import UTCDateTime
from app.extensions import db
from app.models import Permission
from app.models.base import IdMixin
from app.models.base import TimestampMixin


def secret_digest(secret: str) -> str:
    """SHA-256 of a generated secret (256 random bits: a password hash would only add cost)."""
    return hashlib.sha256(secret.encode()).hexdigest()


# The permissions an application holds for itself: what its client-credentials tokens may do on the
# admin API (a service account). Nothing else gives an application a permission.
application_permissions = Table(
    "application_permissions",
    db.metadata,
    Column("application_id", Uuid, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", Uuid, ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("created_at", UTCDateTime, default=now, nullable=False),
    Column("updated_at", UTCDateTime, default=now, onupdate=now, nullable=False),
)


class Application(IdMixin, TimestampMixin, db.Model):
    """A registered OAuth client. Public clients have no secret and authenticate with PKCE."""

    __tablename__ = "applications"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    response_types: Mapped[list] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    skip_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # RFC 7662 §4: only applications registered as resource servers may introspect tokens.
    introspect: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    # The relying party's public keys (OpenID Connect Registration §2): inline, or at a URL it serves.
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    # Request objects (RFC 9101): the URIs it may pass as request_uri, and the one algorithm its
    # request objects must be signed with (None: any asymmetric algorithm the server supports).
    request_uris: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    request_object_signing_alg: Mapped[str | None] = mapped_column(String(16))
    token_endpoint_auth_signing_alg: Mapped[str | None] = mapped_column(String(16))
    # Userinfo answered as a signed JWT instead of JSON when set (OpenID Connect Core §5.3.2).
    userinfo_signed_response_alg: Mapped[str | None] = mapped_column(String(16))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False,
                                                                      server_default=text("false"))
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False,
                                                                       server_default=text("false"))
    # client_secret_jwt only: the secret is an HMAC key the server must hold, sealed like the
    # signing keys (KEY_ENCRYPTION_SECRET); every other secret is kept as a digest alone.
    client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    permissions: Mapped[list[Permission]] = relationship(secondary=application_permissions)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    # Authlib's client contract (authlib.oauth2.rfc6749.ClientMixin).

    @property
    def client_metadata(self) -> dict:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris,
                "token_endpoint_auth_method": self.token_endpoint_auth_method,
                "token_endpoint_auth_signing_alg": self.token_endpoint_auth_signing_alg,
                "jwks": self.jwks, "jwks_uri": self.jwks_uri, "request_uris": list(self.request_uris or []),
                "request_object_signing_alg": self.request_object_signing_alg,
                "userinfo_signed_response_alg": self.userinfo_signed_response_alg,
                "backchannel_logout_uri": self.backchannel_logout_uri,
                "backchannel_logout_session_required": self.backchannel_logout_session_required,
                "frontchannel_logout_uri": self.frontchannel_logout_uri,
                "frontchannel_logout_session_required": self.frontchannel_logout_session_required}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: without a redirect_uri parameter, only a single registered URI is unambiguous.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.scope.split())
        return " ".join(token for token in (scope or "").split() if token in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §2.1 / §4.1.3: exact string matching, no patterns, no normalisation.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str | None) -> bool:
        """Constant-time check of a presented client secret."""
        if not client_secret or not self.client_secret_hash:
            return False
        return hmac.compare_digest(secret_digest(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Whether the client may authenticate with ``method`` (at every endpoint alike)."""
        if self.is_public:
            return method == "none"
        # OpenID Connect Core §9 / RFC 7591 §2: a client authenticates with the method it registered.
        # A client registered for a JWT uses that JWT alone: a private_key_jwt client has no secret,
        # and a client_secret_jwt client's secret never travels.
        if self.token_endpoint_auth_method in ("private_key_jwt", "client_secret_jwt"):
            return method == self.token_endpoint_auth_method
        # A secret client may send its secret in the header or the body, never nothing.
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class UserApplication(IdMixin, TimestampMixin, db.Model):
    """A user's consent to an application: the scopes granted, until revoked."""

    __tablename__ = "user_applications"
    __table_args__ = (UniqueConstraint("user_id", "application_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(IdMixin, TimestampMixin, db.Model):
    """A single-use code (60 s) with everything the token request must match."""

    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_application_id_nonce", "application_id", "nonce"),)

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("sessions.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    # The authentication context class reference reached (OpenID Connect Core §2), and the
    # claims request parameter (§5.5) the ID tokens issued from it honour.
    acr: Mapped[str | None] = mapped_column(String(128))
    claims: Mapped[dict | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the exchange: the grant its tokens belong to (the refresh family, when one is issued),
    # named in the access tokens so that revoking the grant reaches them (RFC 6749 §4.1.2).
    family_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    # Authlib's authorization code contract (with the OpenID Connect additions).

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list:
        return self.amr


class RefreshToken(IdMixin, TimestampMixin, db.Model):
    """An opaque refresh token. Each use rotates it; all rotations share a ``family_id``."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("sessions.id"), index=True)
    code_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("authorization_codes.id"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    # The authentication context class reference reached (OpenID Connect Core §2), and the
    # claims request parameter (§5.5) the ID tokens issued from it honour.
    acr: Mapped[str | None] = mapped_column(String(128))
    claims: Mapped[dict | None] = mapped_column(JSON)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Authlib's token contract, as far as the refresh grant uses it.

    def check_client(self, client: Application) -> bool:
        # RFC 6749 §6: the refresh token is bound to the client it was issued to.
        return self.application_id == client.id

    def get_scope(self) -> str:
        return self.scope


class TokenRevocation(db.Model):
    """One revocation of JWT access tokens, the source of truth of every process's denylist.

    Issuing an access token writes nothing; revoking one writes a row here. ``kind`` says what
    ``subject`` names: ``jti`` (one token, RFC 7009), or a "not before" mark on a ``session``, a
    ``family`` (a refresh family, or one code exchange), an ``application``, a ``user`` or a
    ``user_application`` ("user_id:application_id"): every token of the subject issued at or
    before ``revoked_at`` is denied. ``expires_at`` is when no token the row could deny is still
    alive; later the row is pruned. The ``id`` only grows (AUTOINCREMENT on SQLite, a sequence on
    PostgreSQL, taken under one lock until commit), so a process catches up by reading past the
    last id it saw (``oauth.revocations``).
    """

    __tablename__ = "token_revocations"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # pruning reads by it


class PendingAuthorization(IdMixin, TimestampMixin, db.Model):
    """An authorization request waiting for sign-in or consent, kept server-side.

    The browser carries only its random id (in the login page's ``next``), so the request
    survives the login round trip intact and cannot be altered on the way.
    """

    __tablename__ = "pending_authorizations"

    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id"))
    params: Mapped[dict] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionApplication(TimestampMixin, db.Model):
    """An application a sign-in session signed the user in to (a code was issued for it in the
    session): the applications told of the session's end, by back-channel and front-channel logout."""

    __tablename__ = "session_applications"

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sessions.id", ondelete="CASCADE"),
                                                  primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id", ondelete="CASCADE"),
                                                      primary_key=True, index=True)


class LogoutDelivery(IdMixin, TimestampMixin, db.Model):
    """The outbox of back-channel logout notices: one row per (ended session, application).

    Written in the unit of work that records the session's end; a delivery worker claims due rows
    (``claim_id``, ``claimed_until``), posts a fresh logout token and records the outcome.
    ``state`` is pending until delivered or, after the last attempt, abandoned.
    """

    __tablename__ = "logout_deliveries"
    __table_args__ = (Index("ix_logout_deliveries_state_next_attempt_at", "state", "next_attempt_at"),)

    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id", ondelete="CASCADE"),
                                                      index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sessions.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))


class ClientAssertionUse(IdMixin, TimestampMixin, db.Model):
    """A client assertion's ``jti`` once it has authenticated its client (RFC 7523 §3: the server
    may refuse a JWT whose jti it has seen; here every one is single-use). Kept as a SHA-256 digest
    until the assertion could no longer be accepted anyway (its exp plus the allowed clock skew);
    the unique pair makes exactly one of concurrent uses win."""

    __tablename__ = "client_assertion_uses"
    __table_args__ = (UniqueConstraint("application_id", "jti_hash"),)

    application_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("applications.id", ondelete="CASCADE"))
    jti_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
