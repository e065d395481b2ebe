"""Tasks: CRUD, types, listing, stats, bulk, ownership and admin, on every backend."""

from datetime import datetime, timedelta, timezone

import pytest

import taskflow


def test_task_lifecycle_and_types(tf, accounts):
    me = accounts.user("ann")
    due = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    t = tf.create_task(me, title="  Ship it ", priority="high", tags=["Release", "q3", "release"],
                       description="words", due_date=due)
    assert isinstance(t, taskflow.Task)
    assert t.title == "Ship it" and t.status == "todo" and t.priority == "high"
    assert t.tags == ["release", "q3"] and t.version == 1 and t.owner_id == me.user_id
    assert t.due_date == due and t.due_date.utcoffset() == timedelta(0)
    assert t.created_at.tzinfo is not None and t.completed_at is None
    d = t.to_dict()
    assert d["id"] == t.id and d["due_date"] == t.due_date and d["tags"] == ["release", "q3"]
    assert repr(t).startswith("Task(id='")
    assert tf.get_task(me, t.id) == t

    done = tf.update_task(me, t.id, status="done", description=None, expected_version=1)
    assert done.version == 2 and done.description is None and done.completed_at is not None
    assert done.due_date == due, "fields not passed stay"
    with pytest.raises(taskflow.VersionMismatchError) as e:
        tf.update_task(me, t.id, title="lost update", expected_version=1)
    assert e.value.code == "version_mismatch" and e.value.current_version == 2
    reopened = tf.update_task(me, t.id, status="todo", due_date=None)
    assert reopened.completed_at is None and reopened.due_date is None and reopened.version == 3
    same = tf.update_task(me, t.id)
    assert same.version == 3, "an empty patch changes nothing"

    with pytest.raises(taskflow.VersionMismatchError):
        tf.delete_task(me, t.id, expected_version=2)
    tf.delete_task(me, t.id, expected_version=3)
    with pytest.raises(taskflow.NotFoundError) as e:
        tf.get_task(me, t.id)
    assert e.value.code == "not_found"
    with pytest.raises(taskflow.NotFoundError):
        tf.get_task(me, "not-a-uuid")


def test_validation_and_argument_types(tf, accounts):
    me = accounts.user("ann")
    with pytest.raises(taskflow.ValidationError) as e:
        tf.create_task(me, title=" ", priority="extreme", tags=["ok", "Not Valid!"])
    assert e.value.code == "validation_failed"
    assert {"title", "priority", "tags[1]"} <= set(e.value.errors)
    assert all(isinstance(m, list) for m in e.value.errors.values())
    assert isinstance(e.value, taskflow.TaskFlowError)
    with pytest.raises(TypeError):
        tf.create_task(me, title=5)
    with pytest.raises(TypeError):
        tf.create_task(me, title="t", tags="a,b")
    with pytest.raises(TypeError):
        tf.create_task(me, title="t", due_date=datetime(2030, 1, 1))  # naive: no timezone
    with pytest.raises(TypeError):
        tf.create_task("not a principal", title="t")
    with pytest.raises(taskflow.ValidationError):
        tf.list_tasks(me, limit=0)
    with pytest.raises(taskflow.ValidationError):
        tf.list_tasks(me, page=2, cursor="abc")
    with pytest.raises(taskflow.ValidationError) as e:
        tf.list_tasks(me, owner_id="not-a-uuid")
    assert "owner_id" in e.value.errors


def test_listing_pagination_and_stats(tf, accounts):
    me = accounts.user("ann")
    past = datetime.now(timezone.utc) - timedelta(days=1)
    a = tf.create_task(me, title="alpha report", priority="high", tags=["work"], due_date=past)
    b = tf.create_task(me, title="beta", description="Reporting numbers", priority="urgent", status="in_progress")
    c = tf.create_task(me, title="gamma", priority="low", status="done")
    ids = lambda page: [t.id for t in page]  # noqa: E731
    page = tf.list_tasks(me)
    assert isinstance(page, taskflow.TaskPage)
    assert len(page) == 3 and ids(page) == [c.id, b.id, a.id]
    assert page.page == 1 and page.total == 3 and page.limit == 20 and page.next_cursor is None
    assert page[0] == c and page[-1] == a and page.items == list(page)
    assert ids(tf.list_tasks(me, status=["todo", "in_progress"], sort="created_at")) == [a.id, b.id]
    assert ids(tf.list_tasks(me, priority=["high", "urgent"], sort="-priority")) == [b.id, a.id]
    assert ids(tf.list_tasks(me, tag="work")) == [a.id]
    assert ids(tf.list_tasks(me, q="REPORT", sort="created_at")) == [a.id, b.id]
    assert ids(tf.list_tasks(me, overdue=True)) == [a.id]
    assert ids(tf.list_tasks(me, due_before=datetime.now(timezone.utc))) == [a.id]

    first = tf.list_tasks(me, limit=2)
    assert first.next_cursor is not None
    rest = tf.list_tasks(me, limit=2, cursor=first.next_cursor)
    assert rest.page is None and rest.total is None and ids(rest) == [a.id]
    assert set(first.to_dict()) == {"items", "limit", "page", "total", "next_cursor"}

    stats = tf.task_stats(me)
    assert isinstance(stats, taskflow.TaskStats)
    assert stats.total == 3 and stats.overdue == 1 and stats.completed_last_7_days == 1
    assert stats.by_status == {"todo": 1, "in_progress": 1, "done": 1, "cancelled": 0}
    assert stats.by_priority == {"low": 1, "medium": 0, "high": 1, "urgent": 1}
    assert stats.to_dict()["by_status"]["done"] == 1


def test_bulk_is_all_or_nothing(tf, accounts):
    ann = accounts.user("ann")
    bob = accounts.user("bob")
    mine = [tf.create_task(ann, title=f"t{i}").id for i in range(3)]
    theirs = tf.create_task(bob, title="bob's").id
    assert tf.bulk_set_status(ann, mine, "done") == 3
    assert tf.bulk_set_status(ann, mine, "done") == 0, "already done: not counted"
    with pytest.raises(taskflow.NotFoundError):
        tf.bulk_set_status(ann, mine + [theirs], "cancelled")
    assert {t.status for t in tf.list_tasks(ann)} == {"done"}, "nothing changed"
    assert tf.get_task(bob, theirs).status == "todo"


def test_ownership_and_admin(tf, accounts):
    ann = accounts.user("ann")
    bob = accounts.user("bob")
    admin = accounts.admin("root")
    t = tf.create_task(ann, title="ann's secret")
    for call in (
        lambda: tf.get_task(bob, t.id),
        lambda: tf.update_task(bob, t.id, title="mine now"),
        lambda: tf.delete_task(bob, t.id),
    ):
        with pytest.raises(taskflow.NotFoundError):
            call()
    assert len(tf.list_tasks(bob)) == 0 and tf.task_stats(bob).total == 0
    with pytest.raises(taskflow.PermissionDeniedError) as e:
        tf.list_tasks(bob, owner_id=ann.user_id)
    assert e.value.code == "forbidden"
    with pytest.raises(taskflow.PermissionDeniedError):
        tf.list_users(bob)
    with pytest.raises(taskflow.PermissionDeniedError):
        tf.update_user(bob, bob.user_id, role="admin")

    assert tf.get_task(admin, t.id) == t
    assert [x.id for x in tf.list_tasks(admin, owner_id=ann.user_id)] == [t.id]
    assert tf.task_stats(admin, owner_id=ann.user_id).total == 1
    assert tf.update_task(admin, t.id, priority="urgent").priority == "urgent"

    users = tf.list_users(admin, limit=2)
    assert isinstance(users, taskflow.UserPage) and len(users) == 2 and users.total == 3
    assert [u.email for u in tf.list_users(admin, role="admin")] == ["root@example.com"]
    assert tf.list_users(admin, q="BOB")[0].email == "bob@example.com"
    assert tf.get_user(admin, ann.user_id).email == "ann@example.com"
    with pytest.raises(taskflow.NotFoundError):
        tf.get_user(admin, "nope")
    promoted = tf.update_user(admin, ann.user_id, role="admin")
    assert promoted.role == "admin"
    assert len(tf.list_users(accounts.login("ann"))) == 3, "a fresh principal has the new role"
    with pytest.raises(taskflow.ValidationError) as e:
        tf.update_user(admin, ann.user_id, role="overlord")
    assert "role" in e.value.errors
    tf.update_user(admin, ann.user_id, role="user")
    with pytest.raises(taskflow.ConflictError):
        tf.update_user(admin, admin.user_id, disabled=True)
