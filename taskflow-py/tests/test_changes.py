"""The change log from Python: ``events`` (blocking and async iterators), ``task_changes``
and ``ResetRequiredError``, on every backend."""

import asyncio
import threading
import time

import pytest

import taskflow
import taskflow.aio

from conftest import PASSWORD, SECRET


def test_task_changes_page_through_what_the_caller_may_see(tf, accounts):
    ann = accounts.user("ann")
    bob = accounts.user("bob")
    start = tf.task_changes(ann)
    assert len(start) == 0 and not start.has_more
    mine = [tf.create_task(ann, title=f"a{i}") for i in range(3)]
    tf.create_task(bob, title="not ann's")
    tf.delete_task(ann, mine[0].id)

    seen, since = [], start.next
    while True:
        page = tf.task_changes(ann, since=since, limit=2)
        assert len(page.changes) <= 2
        seen.extend(page.changes)
        since = page.next
        if not page.has_more:
            break
    assert [(c.type, c.task_id) for c in seen] == [
        ("upsert", mine[0].id),
        ("upsert", mine[1].id),
        ("upsert", mine[2].id),
        ("delete", mine[0].id),
    ]
    assert seen[1].task == mine[1]
    assert seen[3].task is None
    assert len(tf.task_changes(ann, since=since)) == 0


def test_task_changes_refuse_bad_input(tf, accounts):
    ann = accounts.user("ann")
    with pytest.raises(taskflow.ValidationError) as e:
        tf.task_changes(ann, since="not a position")
    assert "position" in e.value.errors
    with pytest.raises(taskflow.ValidationError) as e:
        tf.task_changes(ann, limit=0)
    assert "limit" in e.value.errors
    assert issubclass(taskflow.ResetRequiredError, taskflow.TaskFlowError)
    assert taskflow.ResetRequiredError.code == "reset_required"


def test_events_arrive_live_and_end_at_logout(tf, accounts):
    ann = accounts.user("ann")
    pair = tf.login(email="ann@example.com", password=PASSWORD)
    me = tf.authenticate(pair.access_token)
    stream = tf.events(me)
    got = []

    def read():
        for event in stream:
            got.append(event)

    reader = threading.Thread(target=read)
    reader.start()
    task = tf.create_task(ann, title="live")
    tf.update_task(ann, task.id, status="done")
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    tf.logout(pair.access_token)
    reader.join(timeout=5)
    assert not reader.is_alive(), "the iterator ends after logout"
    assert [e.type for e in got] == ["task.created", "task.updated"]
    assert got[0].data["task"].id == task.id
    assert got[1].data["task"].status == "done"
    assert got[0].id < got[1].id

    # Resuming after the first event gives exactly the second.
    again = tf.events(ann, last_event_id=got[0].id)
    assert next(again).id == got[1].id


def test_async_events(url):
    async def main():
        tf = await taskflow.aio.TaskFlow.open(url, jwt_secret=SECRET)
        await tf.register(email="cy@example.com", password=PASSWORD, name="Cy")
        pair = await tf.login(email="cy@example.com", password=PASSWORD)
        me = await tf.authenticate(pair.access_token)
        head = (await tf.task_changes(me)).next
        task = await tf.create_task(me, title="async")
        events = tf.events(me, last_event_id=head)
        first = await asyncio.wait_for(events.__anext__(), 5)
        assert first.type == "task.created" and first.data["task"].id == task.id
        await tf.logout(pair.access_token)
        rest = [e async for e in events]
        assert rest == []
        await tf.close()

    asyncio.run(main())
