"""A new password is set one way (passwords.set_password) from every path, and every path ends the
other sessions and revokes every token of the account, offline_access refresh tokens included."""

import pytest

from ..helpers import change_on_the_account_page
from ..helpers import change_through_the_api
from ..helpers import exchange
from ..helpers import get_code
from ..helpers import refresh
from ..helpers import reset_by_code
from ..helpers import set_on_the_command_line


@pytest.mark.parametrize("change", [change_on_the_account_page, change_through_the_api, reset_by_code,
                                    set_on_the_command_line], ids=["page", "api", "reset", "cli"])
def test_every_password_change_revokes_offline_refresh_tokens(app, signed_in, user, make_client, mailbox, change):
    application = make_client(public=True, skip_consent=True)
    request, code = get_code(signed_in, application, scope="openid offline_access")
    offline = exchange(signed_in, application, request, code).get_json()["refresh_token"]
    result = change(app, signed_in, user, mailbox)
    assert getattr(result, "status_code", None) in (200, 204, 303) or result.exit_code == 0
    refused = refresh(app.test_client(), application, offline)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert mailbox.to(user.email)[-1]["Subject"] == "Your password was changed"
