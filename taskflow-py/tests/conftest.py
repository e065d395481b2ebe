"""Fixtures: a fresh store per test on every backend CI has.

SQLite always runs. PostgreSQL (``TASKFLOW_TEST_POSTGRES_URL``, a fresh schema per test,
made with ``psql``) and MongoDB (``TASKFLOW_TEST_MONGO_URL``, a fresh database per test)
are skipped locally when unset, and fail under ``CI=true``: CI never silently skips a
backend.
"""

import os
import subprocess
import uuid

import pytest

import taskflow

SECRET = "python test secret of at least 32 bytes"
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgres", "mongo"]


def _env(var):
    url = os.environ.get(var)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{var} is not set and CI=true: every backend must run in CI")
    pytest.skip(f"{var} not set")


def store_url(backend, tmp_path):
    """A URL naming a new, empty store of ``backend``."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'tasks.db'}"
    name = f"py_{uuid.uuid4().hex}"
    if backend == "postgres":
        url = _env("TASKFLOW_TEST_POSTGRES_URL")
        subprocess.run(["psql", url, "-qc", f"CREATE SCHEMA {name}"], check=True)
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}options=-c%20search_path%3D{name}"
    url = _env("TASKFLOW_TEST_MONGO_URL")
    rest = url[len("mongodb://"):]
    authority, _, query = rest.partition("/")
    query = query.lstrip("?") if query.startswith("?") else query.partition("?")[2]
    return f"mongodb://{authority}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def url(backend, tmp_path):
    return store_url(backend, tmp_path)


@pytest.fixture
def tf(url):
    flow = taskflow.TaskFlow.open(url, jwt_secret=SECRET)
    yield flow
    flow.close()


class Accounts:
    """Registers and logs in accounts on one TaskFlow."""

    def __init__(self, tf):
        self.tf = tf

    def user(self, name):
        self.tf.register(email=f"{name}@example.com", password=PASSWORD, name=name)
        return self.login(name)

    def admin(self, name):
        self.tf.create_admin(email=f"{name}@example.com", password=PASSWORD, name=name)
        return self.login(name)

    def login(self, name):
        pair = self.tf.login(email=f"{name}@example.com", password=PASSWORD)
        return self.tf.authenticate(pair.access_token)


@pytest.fixture
def accounts(tf):
    return Accounts(tf)
