"""Liveness and readiness."""

from typing import Literal

from pydantic import Field

from ..spec import Schema


class Liveness(Schema):
    status: Literal["ok"]


class Readiness(Schema):
    status: Literal["ok", "unavailable"]
    components: dict[str, Literal["ok", "unavailable"]] = Field(
        examples=[{"database": "ok", "redis": "ok", "keys": "ok"}])
