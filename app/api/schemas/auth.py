"""The account flows as JSON (/api/v1/auth/...): what they accept and answer."""

from datetime import datetime
from uuid import UUID

from pydantic import Field

from ...services.profile import PHONE_LIMIT
from ..spec import Body
from ..spec import Schema
from ..spec import text
from .account import Address

EMAIL_LIMIT = 254
PASSWORD_LIMIT = 1024
CODE_LIMIT = 12
FULLNAME_LIMIT = 200

EXAMPLE_EMAIL = "ada@example.com"
EXAMPLE_PASSWORD = "correct horse battery staple"


class RegisterIn(Body):
    email: text(EMAIL_LIMIT) = Field(examples=[EXAMPLE_EMAIL])
    fullname: text(FULLNAME_LIMIT) = Field(examples=["Ada Lovelace"])
    password: text(PASSWORD_LIMIT) = Field(examples=[EXAMPLE_PASSWORD])
    phone: text(PHONE_LIMIT) | None = Field(None, examples=["+44 20 7946 0958"])
    address: Address | None = None


class EmailIn(Body):
    email: text(EMAIL_LIMIT) = Field(examples=[EXAMPLE_EMAIL])


class CodeIn(Body):
    code: text(CODE_LIMIT) = Field(examples=["123456"])


class VerifyIn(EmailIn, CodeIn):
    """The address and the code mailed to it."""


class LoginIn(EmailIn):
    password: text(PASSWORD_LIMIT) = Field(examples=[EXAMPLE_PASSWORD])


class ResetIn(VerifyIn):
    password: text(PASSWORD_LIMIT) = Field(description="The new password.", examples=[EXAMPLE_PASSWORD])


class Status(Schema):
    """An accepted request and what happens next (the same answer whether or not the account exists)."""

    status: str = Field(examples=["sent_if_registered"])
    detail: str | None = Field(None, exclude_if=lambda value: value is None,
                               description="Present when something needs saying (a code could not be sent now).")


class Registered(Schema):
    status: str = Field(examples=["verification_sent"])
    email: str = Field(examples=[EXAMPLE_EMAIL])


class SignedInUser(Schema):
    id: UUID
    email: str = Field(examples=[EXAMPLE_EMAIL])


class SessionRef(Schema):
    id: UUID
    expires_at: datetime = Field(description="When the session ends at the latest (absolute limit).")


class SignedIn(Schema):
    """A new session; its token is in the Set-Cookie header."""

    user: SignedInUser
    session: SessionRef


class CsrfToken(Schema):
    csrf_token: str = Field(description="Send it in the X-CSRFToken header of every cookie-authenticated change.")
