"""Schemathesis against a live server: requests generated from /openapi.json (its examples, then
fuzzed values) to every documented JSON route of this API; none may answer a server error."""

import os
import shutil
import subprocess
import sys

from ..helpers import ACCOUNT_CLIENT_SCOPE
from ..helpers import ACCOUNT_SCOPES
from ..helpers import grant_tokens
from ..helpers import require

# This API's own routes; the OAuth endpoints have their own fuzz test (tests/test_routes_fuzz.py).
INCLUDE = r"^/(api/|currentuser|health|admin/health|openapi\.json|getPostmanCollection)"


def test_no_generated_request_gets_a_server_error(live_server, signed_in, make_client, tmp_path):
    """checks: not_a_server_error; a few examples per operation, a fixed seed, one worker (under a minute)."""
    st = shutil.which("st", path=os.path.dirname(sys.executable))
    require(st is not None, "schemathesis is not installed (pip install -e '.[test]')")
    application = make_client(skip_consent=True, scope=ACCOUNT_CLIENT_SCOPE)
    token = grant_tokens(signed_in, application, scope=ACCOUNT_SCOPES)["access_token"]
    run = subprocess.run(
        [st, "run", f"{live_server.url}/openapi.json", "--url", live_server.url, "--checks", "not_a_server_error",
         "--max-examples", "5", "--seed", "9", "--workers", "1", "--phases", "examples,fuzzing",
         "--include-path-regex", INCLUDE, "--request-timeout", "10",
         "-H", f"Authorization: Bearer {token}", "--no-color"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
