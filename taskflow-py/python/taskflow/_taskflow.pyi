"""Type stubs of the native module ``taskflow._taskflow`` (checked by ``mypy.stubtest``)."""

from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Optional, Union, final

__version__: str
__all__ = [
    "TaskFlowError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "VersionMismatchError",
    "AuthenticationError",
    "PermissionDeniedError",
    "RateLimitedError",
    "UnavailableError",
    "ResetRequiredError",
    "TaskFlow",
    "AsyncTaskFlow",
    "User",
    "TokenPair",
    "Principal",
    "Task",
    "TaskPage",
    "UserPage",
    "TaskStats",
    "Event",
    "TaskChange",
    "Changes",
    "__version__",
]

class TaskFlowError(Exception):
    """Base of every TaskFlow error; ``code`` is the core's error code."""

    code: str

class ValidationError(TaskFlowError):
    """Invalid input; ``errors`` maps each failing field to its messages."""

    errors: dict[str, list[str]]

class NotFoundError(TaskFlowError):
    """No such resource, or it belongs to another user."""

class ConflictError(TaskFlowError):
    """Duplicate email, or a change to the last active admin."""

class VersionMismatchError(TaskFlowError):
    """The task is not at the expected version; ``current_version`` says where it is."""

    current_version: int

class AuthenticationError(TaskFlowError):
    """Missing, invalid, expired or revoked credentials, or a disabled account."""

class PermissionDeniedError(TaskFlowError):
    """The caller's role lacks the permission."""

class RateLimitedError(TaskFlowError):
    """Too many attempts; ``retry_after`` is in seconds."""

    retry_after: float

class UnavailableError(TaskFlowError):
    """The store cannot be reached; retry later."""

class ResetRequiredError(TaskFlowError):
    """A change-log position is older than the log keeps: refetch, then follow from ``start``."""

    start: str

@final
class User:
    """An account (never a password hash)."""

    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def disabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class TokenPair:
    """Tokens from login or refresh; the ``repr`` never shows them."""

    @property
    def access_token(self) -> str: ...
    @property
    def refresh_token(self) -> str: ...
    @property
    def token_type(self) -> str: ...
    @property
    def expires_in(self) -> int: ...
    @property
    def user(self) -> User: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Principal:
    """Who is asking: the result of ``authenticate``."""

    @property
    def user_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Task:
    """A task; times are timezone-aware UTC datetimes."""

    @property
    def id(self) -> str: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def due_date(self) -> Optional[datetime]: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def completed_at(self) -> Optional[datetime]: ...
    @property
    def version(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class TaskPage:
    """A page of tasks: iterable, with ``len()``."""

    @property
    def items(self) -> list[Task]: ...
    @property
    def limit(self) -> int: ...
    @property
    def page(self) -> Optional[int]: ...
    @property
    def total(self) -> Optional[int]: ...
    @property
    def next_cursor(self) -> Optional[str]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Task]: ...
    def __getitem__(self, key: int, /) -> Task: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class UserPage:
    """A page of users: iterable, with ``len()``."""

    @property
    def items(self) -> list[User]: ...
    @property
    def limit(self) -> int: ...
    @property
    def page(self) -> Optional[int]: ...
    @property
    def total(self) -> Optional[int]: ...
    @property
    def next_cursor(self) -> Optional[str]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[User]: ...
    def __getitem__(self, key: int, /) -> User: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class TaskStats:
    """Counts over a set of tasks."""

    @property
    def total(self) -> int: ...
    @property
    def by_status(self) -> dict[str, int]: ...
    @property
    def by_priority(self) -> dict[str, int]: ...
    @property
    def overdue(self) -> int: ...
    @property
    def completed_last_7_days(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Event:
    """A live task event: ``type`` is ``task.created``, ``task.updated``, ``task.deleted``
    or ``reset``; ``data`` is ``{"task": Task}``, ``{"task_id", "owner_id"}`` or
    ``{"start"}``; resume after ``id`` with ``last_event_id=``."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...

@final
class TaskChange:
    """An entry of ``task_changes``: ``type`` is ``upsert`` (``task`` as written) or
    ``delete`` (``task`` is ``None``)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def task_id(self) -> str: ...
    @property
    def task(self) -> Optional[Task]: ...

@final
class Changes:
    """A page of ``task_changes``; pass ``next`` as ``since`` to read on."""

    @property
    def changes(self) -> list[TaskChange]: ...
    @property
    def next(self) -> str: ...
    @property
    def has_more(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class TaskFlow:
    """The blocking handle; every call releases the GIL while it waits. Thread-safe."""

    @staticmethod
    def open(
        url: str,
        jwt_secret: Union[str, bytes],
        cache: bool = True,
        access_ttl_seconds: Optional[float] = None,
        refresh_ttl_seconds: Optional[float] = None,
        migrate: bool = True,
    ) -> TaskFlow: ...
    def __enter__(self) -> TaskFlow: ...
    def __exit__(self, *_args: object) -> None: ...
    def migrate(self) -> None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...
    def purge_expired_sessions(self) -> int: ...
    def create_admin(self, email: str, password: str, name: str) -> User: ...
    def register(self, email: str, password: str, name: str) -> User: ...
    def login(
        self, email: str, password: str, *, client_addr: Union[str, IPv4Address, IPv6Address, None] = None
    ) -> TokenPair: ...
    def authenticate(self, access_token: str) -> Principal: ...
    def refresh(self, refresh_token: str) -> TokenPair: ...
    def logout(self, access_token: str, refresh_token: Optional[str] = None) -> None: ...
    def logout_all(self, me: Principal) -> None: ...
    def change_password(
        self,
        me: Principal,
        current_password: str,
        new_password: str,
        *,
        client_addr: Union[str, IPv4Address, IPv6Address, None] = None,
    ) -> None: ...
    def me(self, me: Principal) -> User: ...
    def update_me(self, me: Principal, name: Optional[str] = None) -> User: ...
    def create_task(
        self,
        me: Principal,
        title: str,
        description: Optional[str] = None,
        status: Optional[str] = None,
        priority: Optional[str] = None,
        due_date: Optional[datetime] = None,
        tags: Optional[list[str]] = None,
    ) -> Task: ...
    def get_task(self, me: Principal, task_id: str) -> Task: ...
    def events(
        self, me: Principal, last_event_id: Optional[str] = None
    ) -> Iterator[Event]: ...
    def task_changes(
        self, me: Principal, since: Optional[str] = None, limit: int = 100
    ) -> Changes: ...
    def update_task(
        self,
        me: Principal,
        task_id: str,
        title: Optional[str] = None,
        description: Optional[str] = ...,
        status: Optional[str] = None,
        priority: Optional[str] = None,
        due_date: Optional[datetime] = ...,
        tags: Optional[list[str]] = None,
        expected_version: Optional[int] = None,
    ) -> Task: ...
    def delete_task(self, me: Principal, task_id: str, expected_version: Optional[int] = None) -> None: ...
    def bulk_set_status(self, me: Principal, task_ids: list[str], status: str) -> int: ...
    def list_tasks(
        self,
        me: Principal,
        status: Optional[list[str]] = None,
        priority: Optional[list[str]] = None,
        tag: Optional[str] = None,
        q: Optional[str] = None,
        due_before: Optional[datetime] = None,
        due_after: Optional[datetime] = None,
        overdue: Optional[bool] = None,
        owner_id: Optional[str] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> TaskPage: ...
    def task_stats(self, me: Principal, owner_id: Optional[str] = None) -> TaskStats: ...
    def list_users(
        self,
        me: Principal,
        role: Optional[str] = None,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
    ) -> UserPage: ...
    def get_user(self, me: Principal, user_id: str) -> User: ...
    def update_user(
        self, me: Principal, user_id: str, role: Optional[str] = None, disabled: Optional[bool] = None
    ) -> User: ...

@final
class AsyncTaskFlow:
    """The asyncio handle (``taskflow.aio.TaskFlow``): every operation is a coroutine."""

    @staticmethod
    def open(
        url: str,
        jwt_secret: Union[str, bytes],
        cache: bool = True,
        access_ttl_seconds: Optional[float] = None,
        refresh_ttl_seconds: Optional[float] = None,
        migrate: bool = True,
    ) -> Awaitable[AsyncTaskFlow]: ...
    def migrate(self) -> Awaitable[None]: ...
    def ping(self) -> Awaitable[None]: ...
    def close(self) -> Awaitable[None]: ...
    def purge_expired_sessions(self) -> Awaitable[int]: ...
    def create_admin(self, email: str, password: str, name: str) -> Awaitable[User]: ...
    def register(self, email: str, password: str, name: str) -> Awaitable[User]: ...
    def login(
        self, email: str, password: str, *, client_addr: Union[str, IPv4Address, IPv6Address, None] = None
    ) -> Awaitable[TokenPair]: ...
    def authenticate(self, access_token: str) -> Awaitable[Principal]: ...
    def refresh(self, refresh_token: str) -> Awaitable[TokenPair]: ...
    def logout(self, access_token: str, refresh_token: Optional[str] = None) -> Awaitable[None]: ...
    def logout_all(self, me: Principal) -> Awaitable[None]: ...
    def change_password(
        self,
        me: Principal,
        current_password: str,
        new_password: str,
        *,
        client_addr: Union[str, IPv4Address, IPv6Address, None] = None,
    ) -> Awaitable[None]: ...
    def me(self, me: Principal) -> Awaitable[User]: ...
    def update_me(self, me: Principal, name: Optional[str] = None) -> Awaitable[User]: ...
    def create_task(
        self,
        me: Principal,
        title: str,
        description: Optional[str] = None,
        status: Optional[str] = None,
        priority: Optional[str] = None,
        due_date: Optional[datetime] = None,
        tags: Optional[list[str]] = None,
    ) -> Awaitable[Task]: ...
    def get_task(self, me: Principal, task_id: str) -> Awaitable[Task]: ...
    def events(
        self, me: Principal, last_event_id: Optional[str] = None
    ) -> AsyncIterator[Event]: ...
    def task_changes(
        self, me: Principal, since: Optional[str] = None, limit: int = 100
    ) -> Awaitable[Changes]: ...
    def update_task(
        self,
        me: Principal,
        task_id: str,
        title: Optional[str] = None,
        description: Optional[str] = ...,
        status: Optional[str] = None,
        priority: Optional[str] = None,
        due_date: Optional[datetime] = ...,
        tags: Optional[list[str]] = None,
        expected_version: Optional[int] = None,
    ) -> Awaitable[Task]: ...
    def delete_task(
        self, me: Principal, task_id: str, expected_version: Optional[int] = None
    ) -> Awaitable[None]: ...
    def bulk_set_status(self, me: Principal, task_ids: list[str], status: str) -> Awaitable[int]: ...
    def list_tasks(
        self,
        me: Principal,
        status: Optional[list[str]] = None,
        priority: Optional[list[str]] = None,
        tag: Optional[str] = None,
        q: Optional[str] = None,
        due_before: Optional[datetime] = None,
        due_after: Optional[datetime] = None,
        overdue: Optional[bool] = None,
        owner_id: Optional[str] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Awaitable[TaskPage]: ...
    def task_stats(self, me: Principal, owner_id: Optional[str] = None) -> Awaitable[TaskStats]: ...
    def list_users(
        self,
        me: Principal,
        role: Optional[str] = None,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
    ) -> Awaitable[UserPage]: ...
    def get_user(self, me: Principal, user_id: str) -> Awaitable[User]: ...
    def update_user(
        self, me: Principal, user_id: str, role: Optional[str] = None, disabled: Optional[bool] = None
    ) -> Awaitable[User]: ...
