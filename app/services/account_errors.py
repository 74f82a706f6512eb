"""Refusals of the signed-in user's account services (beside errors.py, which they extend)."""

from .errors import DomainError
from .errors import InvalidInput


class WrongPassword(DomainError):
    """The password given to confirm a change is not the account's; ``field`` names the input."""

    public_message = "The password is not right."

    def __init__(self, field: str = "password"):
        self.field = field
        super().__init__()


class InvalidFields(InvalidInput):
    """Input fields are malformed; ``errors`` maps each field name to what is wrong with it."""

    public_message = "Some fields are not valid."

    def __init__(self, errors: dict[str, list[str]], public_message: str | None = None):
        self.errors = errors
        super().__init__(public_message)


class EmailChangeRefused(DomainError):
    """A confirmed new address cannot be used (it was taken meanwhile); says no more than that."""

    public_message = "This email address cannot be used. Choose another address."
