"""Schemathesis hooks for `scripts/test api_fuzz`: a bearer token that stays valid all run.

Loaded through SCHEMATHESIS_HOOKS by `scripts/test` (step `api_fuzz`), which starts a
`taskflow serve` and sets:

  TASKFLOW_FUZZ_API       base URL of the API, `http://127.0.0.1:PORT/api/v1`
  TASKFLOW_FUZZ_ROLE      `user` or `admin`: whom the run acts as
  TASKFLOW_FUZZ_EMAIL     the starting account (registered, or made by `create-admin`)
  TASKFLOW_FUZZ_PASSWORD  its password (also the password of every account made here)
  TASKFLOW_FUZZ_ADMIN_CMD admin runs: the `taskflow create-admin` command line, without
                          `--email`, as a JSON list (the server's database URL and secret)

The fuzzed operations can end the session the run is using: `logout` and `logout-all`
revoke it; `change_password` with a wrong current password counts against the per-account
login throttle (5 failures in 15 minutes, always on), after which the account cannot log
in at all; an admin run can demote or disable its own account once it has promoted
someone else (core refuses it only for the last active admin). Excluding those operations
would leave them untested, so the provider below heals instead: when schemathesis sees a
401 or 403 on an authenticated request it asks for a token again (and replays the request
once), and `get` then
  1. keeps the token if `GET /auth/me` still accepts it with the run's role;
  2. else logs the account in again;
  3. else (throttled, disabled, demoted, password changed) makes a fresh account of the
     run's role and logs that in: users through `POST /auth/register`, admins through
     `taskflow create-admin` (register always creates role `user`).
`get` never fails while the server is up, so schemathesis never turns reauth off.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
import uuid

import schemathesis

API = os.environ["TASKFLOW_FUZZ_API"].rstrip("/")
ROLE = os.environ["TASKFLOW_FUZZ_ROLE"]
PASSWORD = os.environ["TASKFLOW_FUZZ_PASSWORD"]
ADMIN_CMD = json.loads(os.environ.get("TASKFLOW_FUZZ_ADMIN_CMD", "[]"))


def _call(method: str, path: str, body: dict | None = None, token: str | None = None):
    """One JSON request outside the fuzzed traffic: (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, None


def _fresh_email() -> str:
    return f"fuzz-{ROLE}-{uuid.uuid4().hex[:12]}@example.com"


def _new_account() -> str:
    """A new account of the run's role; returns its email."""
    email = _fresh_email()
    if ROLE == "admin":
        subprocess.run(
            [*ADMIN_CMD, "--email", email],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    else:
        status, _ = _call(
            "POST",
            "/auth/register",
            {"email": email, "password": PASSWORD, "name": "Fuzz user"},
        )
        if status != 201:
            raise RuntimeError(f"registering a fresh fuzz account answered {status}")
    return email


@schemathesis.auth(retry_on=[401, 403])
class TaskFlowBearer:
    """Bearer token of the run's account, renewed as described in the module docs."""

    def __init__(self) -> None:
        self.email = os.environ["TASKFLOW_FUZZ_EMAIL"]
        self.token: str | None = None
        self.accounts = 1
        self.lock = threading.Lock()

    def _usable(self, token: str) -> bool:
        status, me = _call("GET", "/auth/me", token=token)
        return status == 200 and me["role"] == ROLE and not me["disabled"]

    def _login(self) -> str | None:
        status, pair = _call(
            "POST", "/auth/login", {"email": self.email, "password": PASSWORD}
        )
        if status == 200 and pair["user"]["role"] == ROLE:
            return pair["access_token"]
        return None

    def get(self, case, context):
        with self.lock:
            if self.token is not None and self._usable(self.token):
                return self.token
            token = self._login()
            if token is None:
                self.email = _new_account()
                self.accounts += 1
                token = self._login()
                if token is None:
                    raise RuntimeError(f"cannot log in the fresh account {self.email}")
            self.token = token
            return token

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


MAX_TAGS = 20


@schemathesis.hook("filter_body").apply_to(operation_id=["create_task", "update_task"])
def at_most_20_distinct_tags(ctx, body):
    """Skip bodies whose validity the document cannot state.

    The server allows 20 tags after lower-casing and de-duplication (21 tags that collapse
    to 20 are fine), which JSON Schema cannot say: `maxItems` would forbid the duplicates
    the server accepts, `uniqueItems` too. So the document leaves the count out, and bodies
    with more than 20 distinct tags, where the server rightly answers 422 to a body the
    schema allows, are not generated.
    """
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        return True
    tags = body["tags"]
    if not all(isinstance(t, str) for t in tags):
        return True
    return len({t.lower() for t in tags}) <= MAX_TAGS
