"""The signed-in user's account (/api/v1/me...): what it accepts and answers."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StrictBool

from ...models import User
from ...services.profile import ADDRESS_LIMITS
from ...services.profile import AVATAR_LIMIT
from ...services.profile import PHONE_LIMIT
from ...services.profile import TEXT_LIMITS
from ..spec import Body
from ..spec import Schema
from ..spec import text
from .users import UserOut

PASSWORD_LIMIT = 1024
CODE_LIMIT = 12


class Address(BaseModel):
    """The OpenID Connect address claim (Core §5.1.1): its members keep the claim's own names."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"street_address": "12 St James's Square", "locality": "London", "country": "UK"}]})

    formatted: str | None = Field(None, max_length=ADDRESS_LIMITS["formatted"])
    street_address: str | None = Field(None, max_length=ADDRESS_LIMITS["street_address"])
    locality: str | None = Field(None, max_length=ADDRESS_LIMITS["locality"])
    region: str | None = Field(None, max_length=ADDRESS_LIMITS["region"])
    postal_code: str | None = Field(None, max_length=ADDRESS_LIMITS["postal_code"])
    country: str | None = Field(None, max_length=ADDRESS_LIMITS["country"])


class ProfileIn(Body):
    """The profile fields to change; a field left out keeps its value, null or "" clears it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"givenName": "Ada", "familyName": "Lovelace",
                                                               "birthdate": "1815-12-10"}]})

    fullname: str | None = Field(None, max_length=TEXT_LIMITS["fullname"], examples=["Ada Lovelace"])
    given_name: str | None = Field(None, max_length=TEXT_LIMITS["given_name"], examples=["Ada"])
    family_name: str | None = Field(None, max_length=TEXT_LIMITS["family_name"], examples=["Lovelace"])
    phone: str | None = Field(None, max_length=PHONE_LIMIT, examples=["+44 20 7946 0958"])
    avatar: str | None = Field(None, max_length=AVATAR_LIMIT, description="An https URL; empty for the default.")
    address: Address | None = None
    birthdate: str | None = Field(None, max_length=10, description="YYYY-MM-DD", examples=["1815-12-10"])

    def changes(self) -> dict:
        """The fields sent, by the profile service's names."""
        sent = self.model_dump(exclude_unset=True, by_alias=False)
        if self.address is not None:
            sent["address"] = self.address.model_dump(exclude_unset=True)
        return sent


class AccountOut(UserOut):
    """The account with its profile, as its owner sees it."""

    given_name: str | None = Field(None, examples=["Ada"])
    family_name: str | None = Field(None, examples=["Lovelace"])
    birthdate: str | None = Field(None, examples=["1815-12-10"])
    two_factor_enabled: bool

    @classmethod
    def of(cls, user: User) -> "AccountOut":
        details = user.profile
        return cls(**UserOut.of(user).model_dump(by_alias=False),
                   given_name=details.given_name if details else None,
                   family_name=details.family_name if details else None,
                   birthdate=details.birthdate.isoformat() if details and details.birthdate else None,
                   two_factor_enabled=user.two_factor_enabled)


class PasswordChangeIn(Body):
    current_password: text(PASSWORD_LIMIT)
    new_password: text(PASSWORD_LIMIT) = Field(examples=["correct horse battery staple"])


class PasswordIn(Body):
    password: text(PASSWORD_LIMIT) = Field(description="The account's password, asked again.")


class EmailChangeIn(Body):
    email: text(254) = Field(examples=["ada.new@example.com"])
    password: text(PASSWORD_LIMIT)


class EmailChangePending(Schema):
    email: str = Field(description="The address the account still has.", examples=["ada@example.com"])
    pending_email: str = Field(description="Where the code went.", examples=["ada.new@example.com"])


class TwoFactorIn(Body):
    enabled: StrictBool
    password: str | None = Field(None, max_length=PASSWORD_LIMIT, description="Needed to turn it off.")


class TwoFactorOut(Schema):
    two_factor_enabled: bool


class SessionsEnded(Schema):
    sessions_ended: int = Field(examples=[1])


class SessionOut(Schema):
    id: UUID
    current: bool = Field(description="The session of this request.")
    device: str = Field(examples=["Firefox on Linux"])
    user_agent: str | None = None
    ip_address: str | None = Field(None, examples=["203.0.113.7"])
    amr: list[str] = Field(examples=[["pwd"]])
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionList(Schema):
    sessions: list[SessionOut]


class LoginOut(Schema):
    time: datetime
    outcome: str = Field(examples=["success"])
    method: str = Field(examples=["password"])
    ip_address: str | None = None
    device: str = Field(examples=["Firefox on Linux"])
    user_agent: str | None = None


class LoginList(Schema):
    logins: list[LoginOut]


class PhoneIn(Body):
    phone: text(PHONE_LIMIT) = Field(examples=["+44 20 7946 0958"])


class PhoneConfirmed(Schema):
    phone: str = Field(examples=["+44 20 7946 0958"])
    phone_verified: bool
