"""Drives a running `taskflow serve` with the Python client openapi-python-client generated
from `taskflow openapi` (scripts/test clients): register, login, create, list, get, update
and stats, asserting what comes back. Any failure raises, so the step fails.

    PYTHONPATH=<dir holding taskflow_client> python drive.py http://127.0.0.1:PORT/api/v1
"""

import sys
import uuid
from http import HTTPStatus
from typing import Any

from taskflow_client import AuthenticatedClient, Client
from taskflow_client.api.auth import login, register
from taskflow_client.api.tasks import create_task, get_task, list_tasks, task_stats, update_task
from taskflow_client.models import (
    Credentials,
    NewTask,
    NewTaskPriorityType1,
    Registration,
    Stats,
    StatusOut,
    Task,
    TaskPage,
    TaskPatch,
    TaskPatchStatusType1,
    TokenPair,
    User,
)
from taskflow_client.types import Response


def parsed(response: Response[Any], status: HTTPStatus, kind: type) -> Any:
    """The typed body of `response`, which must have `status` and parse as `kind`: a model
    the generator dropped or a field it cannot read shows up here."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, kind), (kind, response.parsed, response.content)
    return response.parsed


def main(api: str) -> None:
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    password = "generated-client-pw"
    anonymous = Client(base_url=api, raise_on_unexpected_status=True)

    user = parsed(
        register.sync_detailed(
            client=anonymous,
            body=Registration(email=email, password=password, name="Generated Client"),
        ),
        HTTPStatus.CREATED,
        User,
    )
    assert (user.email, user.role, user.disabled) == (email, "user", False), user

    tokens = parsed(
        login.sync_detailed(client=anonymous, body=Credentials(email=email, password=password)),
        HTTPStatus.OK,
        TokenPair,
    )
    assert tokens.user.id == user.id and tokens.token_type.lower() == "bearer", tokens
    client = AuthenticatedClient(base_url=api, token=tokens.access_token, raise_on_unexpected_status=True)

    report = parsed(
        create_task.sync_detailed(
            client=client,
            body=NewTask(
                title="Write the report",
                description="Quarterly numbers",
                priority=NewTaskPriorityType1.HIGH,
                tags=["Work"],
            ),
        ),
        HTTPStatus.CREATED,
        Task,
    )
    assert (report.status, report.priority, report.tags, report.version) == (
        StatusOut.TODO,
        "high",
        ["work"],
        1,
    ), report
    assert report.owner_id == user.id and report.completed_at is None, report
    chores = parsed(
        create_task.sync_detailed(client=client, body=NewTask(title="Water the plants")),
        HTTPStatus.CREATED,
        Task,
    )

    everything = parsed(list_tasks.sync_detailed(client=client), HTTPStatus.OK, TaskPage)
    assert [t.id for t in everything.items] == [chores.id, report.id], everything
    assert (everything.page.total, everything.page.page, everything.page.next_cursor) == (2, 1, None)
    found = parsed(list_tasks.sync_detailed(client=client, q="REP"), HTTPStatus.OK, TaskPage)
    assert [t.id for t in found.items] == [report.id], found
    # What a person may type in a search box: no word, so nothing matches (not a 400).
    nothing = parsed(list_tasks.sync_detailed(client=client, q="%'_\""), HTTPStatus.OK, TaskPage)
    assert (nothing.items, nothing.page.total) == ([], 0), nothing

    got = parsed(get_task.sync_detailed(report.id, client=client), HTTPStatus.OK, Task)
    assert got == report, (got, report)

    done = parsed(
        update_task.sync_detailed(
            report.id,
            client=client,
            body=TaskPatch(status=TaskPatchStatusType1.DONE, title="Report written"),
            if_match='"1"',
        ),
        HTTPStatus.OK,
        Task,
    )
    assert (done.status, done.title, done.version) == (StatusOut.DONE, "Report written", 2), done
    assert done.completed_at is not None and done.description == "Quarterly numbers", done
    stale = update_task.sync_detailed(
        report.id, client=client, body=TaskPatch(title="Lost update"), if_match='"1"'
    )
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED, stale

    stats = parsed(task_stats.sync_detailed(client=client), HTTPStatus.OK, Stats)
    assert stats.total == 2 and stats.overdue == 0, stats
    counts = stats.by_status
    assert (counts.todo, counts.in_progress, counts.done, counts.cancelled) == (1, 0, 1, 0), counts
    assert stats.by_priority.high == 1 and stats.completed_last_7_days == 1, stats

    print(
        "clients: generated Python client drove register, login, create (2), list (3 queries), "
        "get, update (+ a stale If-Match: 412) and stats: all as asserted"
    )


if __name__ == "__main__":
    main(sys.argv[1])
