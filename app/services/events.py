"""Domain events other packages react to (the OAuth server revokes tokens on them).

Services send them after their change is committed; receivers must not raise.
"""

from blinker import Namespace

_events = Namespace()

# sender: the user id; session_ids: the sessions that just ended.
sessions_ended = _events.signal("sessions-ended")
# sender: the user id. Every credential derived from the account's sign-ins must stop working
# (deactivation, a new password).
credentials_revoked = _events.signal("credentials-revoked")
