"""The signed-in user's grants to applications (/api/v1/me/applications, served by oauth/views.py)."""

from datetime import datetime

from pydantic import Field

from ..spec import Schema


class GrantedApplication(Schema):
    client_id: str = Field(examples=["k3yQ0dnUuY2hW8c1"])
    name: str = Field(examples=["Analytical Engine"])
    scope: str = Field(description="The scopes consented, space-separated.", examples=["openid profile email"])
    granted_at: datetime


class GrantedApplications(Schema):
    applications: list[GrantedApplication]
