"""TaskFlow: the task-management core (users, JWT auth with refresh-token rotation, RBAC,
tasks with filters, search, pagination and stats), from Python.

The same Rust core as the library and the HTTP server: the same validation, permissions,
stores and error codes. ``taskflow.aio`` has the asyncio flavour.

    >>> import taskflow
    >>> tf = taskflow.TaskFlow.open("sqlite::memory:", jwt_secret="x" * 32)
"""

from ._taskflow import (
    AuthenticationError,
    Changes,
    ConflictError,
    Event,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
    ResetRequiredError,
    Task,
    TaskChange,
    TaskFlow,
    TaskFlowError,
    TaskPage,
    TaskStats,
    TokenPair,
    UnavailableError,
    User,
    UserPage,
    ValidationError,
    VersionMismatchError,
    __version__,
)

__all__ = [
    "AuthenticationError",
    "Changes",
    "ConflictError",
    "Event",
    "NotFoundError",
    "PermissionDeniedError",
    "Principal",
    "RateLimitedError",
    "ResetRequiredError",
    "Task",
    "TaskChange",
    "TaskFlow",
    "TaskFlowError",
    "TaskPage",
    "TaskStats",
    "TokenPair",
    "UnavailableError",
    "User",
    "UserPage",
    "ValidationError",
    "VersionMismatchError",
    "__version__",
]
