#!/usr/bin/env python3
"""Seeds a running TaskFlow server through its API and prints the access token.

usage: seed.py BASE_URL USERS TASKS_PER_USER

Registers USERS users (load0@example.com, ...), gives each TASKS_PER_USER tasks (spread
over statuses, priorities and tags), and prints shell assignments for the load scripts:
one user per scenario, so writes in one scenario do not change the data another reads.
Standard library only; 8 threads.
"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "correct horse battery"
STATUSES = ["todo", "in_progress", "done", "cancelled"]
PRIORITIES = ["low", "medium", "high", "urgent"]


def call(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(req, data, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def seed_user(base, i, tasks):
    email = f"load{i}@example.com"
    call(base, "POST", "/auth/register", {"email": email, "password": PASSWORD, "name": f"Load {i}"})
    token = call(base, "POST", "/auth/login", {"email": email, "password": PASSWORD})["access_token"]
    ids = []
    for j in range(tasks):
        task = call(base, "POST", "/tasks", {
            "title": f"seeded task {j} of user {i}",
            "status": STATUSES[j % 4],
            "priority": PRIORITIES[(j // 4) % 4],
            "tags": [f"t{j % 10}"],
        }, token)
        ids.append(task["id"])
    return token, ids


def main():
    base, users, tasks = sys.argv[1].rstrip("/"), int(sys.argv[2]), int(sys.argv[3])
    if users < 4 or tasks < 1:
        sys.exit("need at least 4 users and 1 task each")
    with ThreadPoolExecutor(8) as pool:
        seeded = list(pool.map(lambda i: seed_user(base, i, tasks), range(users)))
    print(f"TOKEN={seeded[0][0]}")          # lists and gets (its data never changes)
    print(f"TASK_ID={seeded[0][1][0]}")
    print(f"TOKEN_POST={seeded[1][0]}")     # creates
    print(f"TOKEN_PATCH={seeded[2][0]}")    # updates its own tasks, round robin
    print(f"TASK_IDS={','.join(seeded[2][1])}")
    print(f"TOKEN_MIXED={seeded[3][0]}")    # lists and creates


if __name__ == "__main__":
    main()
