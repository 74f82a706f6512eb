"""The identity domain's tables. Importing this package registers every model."""

from .audit import AuditEvent
from .history import LoginAttempt
from .roles import Permission
from .roles import Role
from .roles import role_permissions
from .roles import user_roles
from .sessions import UserSession
from .users import Profile
from .users import User
from .verification import VerificationCode

__all__ = [
    "AuditEvent",
    "LoginAttempt",
    "Permission",
    "Profile",
    "Role",
    "User",
    "UserSession",
    "VerificationCode",
    "role_permissions",
    "user_roles",
]
