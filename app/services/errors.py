"""Exceptions the domain raises; views turn each into a page message or a problem response."""


class DomainError(Exception):
    """Base of every refusal a user or client may be told about."""

    public_message = "The request could not be completed."

    def __init__(self, public_message: str | None = None):
        if public_message is not None:
            self.public_message = public_message
        super().__init__(self.public_message)


class SignInRefused(DomainError):
    """Credentials did not open a session; ``outcome`` is what login history records."""

    def __init__(self, outcome: str, public_message: str):
        self.outcome = outcome
        super().__init__(public_message)


class PasswordRejected(DomainError):
    """A new password breaks the policy; ``reasons`` tell the user what to change."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(" ".join(reasons))


class InvalidInput(DomainError):
    """A field is malformed (an email address that is not one, say)."""


class AccountExists(DomainError):
    public_message = "An account with this email address already exists."


class NotFound(DomainError):
    public_message = "Not found."


class CodeRejected(DomainError):
    """A verification code is wrong, used, expired, or tried too often."""


class ResendTooSoon(DomainError):
    """A new code was asked for inside the resend window."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"A code was sent moments ago. You can ask for another in {retry_after} seconds.")


class MessageNotSent(DomainError):
    public_message = "We could not send the message just now. Try again in a moment."


class RegistrationClosed(DomainError):
    public_message = "Registration is closed on this server."


class SecondFactorRequired(DomainError):
    """The password was right; a code sent by email must follow before a session opens."""

    def __init__(self, user_id):
        self.user_id = user_id
        super().__init__("Enter the code we sent to your email address.")


class PermissionNotHeld(DomainError):
    """An administrator tried to hand out a permission they do not hold themselves."""

    def __init__(self, permission: str):
        self.permission = permission
        super().__init__(f"You cannot grant the {permission} permission: you do not hold it.")


class OutOfReach(DomainError):
    """An administrator tried to change an account or an application that holds a permission they
    do not hold (an account's address or password, an application's secret): that would be a way
    to the permission."""

    def __init__(self, permission: str, what: str = "account"):
        self.permission = permission
        super().__init__(f"This {what} holds the {permission} permission, which you do not: you cannot change it.")


class LastSuperAdmin(DomainError):
    """The change would leave no active superAdmin."""

    public_message = "This is the last active superAdmin: it cannot be removed, demoted or deactivated."


class Conflict(DomainError):
    """The change clashes with what is stored: a name already taken, a built-in record that cannot
    be removed or renamed."""

    public_message = "The change conflicts with the current state."
