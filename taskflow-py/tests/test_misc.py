"""Maintenance calls and the package surface."""

import taskflow
from conftest import SECRET


def test_migrate_ping_purge_and_close(url):
    tf = taskflow.TaskFlow.open(url, jwt_secret=SECRET, migrate=False)
    tf.migrate()
    tf.migrate()  # idempotent
    tf.ping()
    assert tf.purge_expired_sessions() == 0
    tf.register(email="a@example.com", password="correct horse battery", name="A")
    tf.close()


def test_package_surface():
    import taskflow.aio

    assert taskflow.aio.TaskFlow is taskflow._taskflow.AsyncTaskFlow
    assert isinstance(taskflow.__version__, str)
    for name in ["User", "TokenPair", "Principal", "Task", "TaskPage", "UserPage", "TaskStats"]:
        assert hasattr(taskflow, name)
