"""TaskFlow from Python in one page: accounts, tokens, tasks, listing, stats, errors, and
the asyncio flavour.

    pip install ./taskflow-py
    python examples/python/quickstart.py                 # SQLite in a temporary directory
    python examples/python/quickstart.py postgres://...  # or any store URL

The script checks what it prints and exits non-zero if anything misbehaves.
"""

import asyncio
import os
import secrets
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import taskflow
import taskflow.aio


def main(url: str) -> None:
    # At least 32 bytes; load it from your secret store in real code.
    secret = secrets.token_bytes(32)
    tf = taskflow.TaskFlow.open(url, jwt_secret=secret)  # migrates on open

    admin = tf.create_admin(email="root@example.com", password="an admin password", name="Root")
    ada = tf.register(email="Ada@Example.com", password="correct horse battery", name="Ada")
    print("registered", ada)

    pair = tf.login(email="ada@example.com", password="correct horse battery")
    me = tf.authenticate(pair.access_token)
    print("logged in:", pair)

    due = datetime.now(timezone.utc) + timedelta(days=2)
    report = tf.create_task(me, title="Write the report", priority="high", tags=["work"], due_date=due)
    tf.create_task(me, title="Book the venue", description="for 40 people")
    done = tf.update_task(me, report.id, status="done", expected_version=report.version)
    assert done.version == 2 and done.completed_at is not None

    page = tf.list_tasks(me, status=["todo", "in_progress"], sort="-priority")
    print(f"{len(page)} open task(s):", [t.title for t in page])
    assert [t.title for t in page] == ["Book the venue"]
    stats = tf.task_stats(me)
    print("stats:", stats)
    assert stats.by_status["done"] == 1

    try:
        tf.update_task(me, report.id, title="lost update", expected_version=1)
    except taskflow.VersionMismatchError as e:
        print(f"stale write refused: {e.code} (task is at version {e.current_version})")
    try:
        tf.create_task(me, title="", priority="extreme")
    except taskflow.ValidationError as e:
        print("invalid input:", e.errors)

    root = tf.authenticate(tf.login(email="root@example.com", password="an admin password").access_token)
    print("admin sees", tf.list_users(root).total, "users")
    assert root.user_id == admin.id

    renewed = tf.refresh(pair.refresh_token)
    tf.logout(renewed.access_token, renewed.refresh_token)
    try:
        tf.authenticate(renewed.access_token)
    except taskflow.AuthenticationError:
        print("after logout the access token is refused")
    tf.close()


async def async_main(url: str) -> None:
    tf = await taskflow.aio.TaskFlow.open(url, jwt_secret=secrets.token_bytes(32))
    pair = await tf.login("ada@example.com", "correct horse battery")
    me = await tf.authenticate(pair.access_token)
    created = await asyncio.gather(*(tf.create_task(me, title=f"async task {i}") for i in range(5)))
    print("asyncio: created", len(created), "tasks concurrently")
    assert (await tf.task_stats(me)).total == 7
    await tf.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite://{os.path.join(tmp, 'quickstart.db')}"
        main(url)
        asyncio.run(async_main(url))
