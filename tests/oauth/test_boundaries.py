"""The package boundaries: oauth reads users and sessions through app.services, and its modules
import each other one way."""

import ast
import uuid
from pathlib import Path

from app.services import accounts

OAUTH = Path(__file__).resolve().parents[2] / "oauth"


def runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (imports under ``if TYPE_CHECKING:`` are types only)."""
    tree = ast.parse(path.read_text())
    type_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.update(f"{base}.{alias.name}" if node.module is None else base for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_oauth_reads_users_and_sessions_through_the_services():
    offenders = {path.name: sorted(name for name in runtime_imports(path) if name.startswith("app.models"))
                 for path in OAUTH.glob("*.py") if path.name != "models.py"}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_oauth_models_import_no_protocol_service():
    """oauth/clients.py imports oauth/models.py, never the other way round (no import cycle)."""
    assert not {name for name in runtime_imports(OAUTH / "models.py") if name.startswith(".")}


def test_active_user_is_the_account_while_it_may_act(app, make_user):
    user = make_user()
    with app.app_context():
        assert accounts.active_user(user.id).email == user.email
        assert accounts.active_user(str(user.id)).id == user.id
        assert accounts.active_user(uuid.uuid4()) is None
        assert accounts.active_user("not-a-uuid") is None
        accounts.deactivate(user.email)
        assert accounts.active_user(user.id) is None
