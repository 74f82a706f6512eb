"""Password reset by a code sent to the account's email address."""

import logging

from . import accounts
from . import mailer
from . import passwords
from . import verification

security = logging.getLogger("security")


def _account(email: str):
    user = accounts.find_by_email(email) if email and len(email) <= 254 else None
    return user if user is not None and user.is_active else None


def request_reset(email: str) -> None:
    """Mail a reset code if the address has an active account; the caller answers the same either way."""
    user = _account(email)
    if user is None:
        security.info("password_reset.unknown_email")
        return
    # Issued and mailed after the request, which then costs the same for every address; inside the
    # resend window nothing goes out (saying "wait" would tell that the address has an account).
    mailer.send_code_after(user.id, user.email, "password_reset", "reset_password", "Reset your password")


def reset(email: str, code: str, new_password: str) -> None:
    """Check the code, then the password policy, then set the password (``passwords.set_password``).

    The code comes first for every address, with the same refusal and the same work whether or not
    it has an account, so only the holder of a right code learns anything, the policy included. The
    code is spent only once the new password passes the policy, so a refused password can be
    corrected with the same code.
    """
    user = _account(email)
    proven = verification.check_by_address(user.id if user else None, "password_reset", code, consume=False)
    passwords.set_password(user, new_password, via="reset", proof=lambda: verification.spend(proven))
