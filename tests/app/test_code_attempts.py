"""Verification code attempts hold under concurrency: an attempt is taken before the comparison."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import VerificationCode
from app.services import verification
from app.services.errors import CodeRejected


def guess_together(app, count: int, user_id, code: str) -> list[str]:
    """``count`` threads, each with its own database session, check ``code`` at the same moment."""
    barrier = threading.Barrier(count)

    def guess(_):
        with app.app_context():
            barrier.wait()
            try:
                verification.check(user_id, "password_reset", code)
            except CodeRejected as refusal:
                return refusal.public_message
            finally:
                db.session.remove()
        return "accepted"

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(guess, range(count)))


def test_parallel_wrong_codes_are_compared_at_most_max_attempts_times(app, user):
    """20 wrong guesses at once: exactly CODE_MAX_ATTEMPTS (5) are compared ("not right"), the rest
    find the code out of attempts, the stored count stops at 5 and the right code is dead."""
    with app.app_context():
        code = verification.issue(user.id, "password_reset")
    wrong = "000000" if code != "000000" else "111111"
    answers = guess_together(app, 20, user.id, wrong)
    assert sum("not right" in answer for answer in answers) == 5
    assert sum("expired or was replaced" in answer for answer in answers) == 15
    with app.app_context():
        assert db.session.scalar(select(VerificationCode.attempts).where(VerificationCode.user_id == user.id)) == 5
        with pytest.raises(CodeRejected):
            verification.check(user.id, "password_reset", code)


def test_a_right_code_proven_without_spending_keeps_its_attempts(app, user):
    """A reset proves its code before the password policy; the right code does not use up attempts."""
    with app.app_context():
        code = verification.issue(user.id, "password_reset")
        for _ in range(6):
            verification.check(user.id, "password_reset", code, consume=False)
        assert db.session.scalar(select(VerificationCode.attempts).where(VerificationCode.user_id == user.id)) == 0
        verification.check(user.id, "password_reset", code)
