"""The Python side of the binding-overhead comparison (Rust side: `benches/benches/binding.rs`).

Same store configuration (`sqlite::memory:`, cache on) and the same calls: create a task
then get it, and a cached get. Prints microseconds per call pair, median of 7 runs.

    pip install ./taskflow-py
    python benches/python/overhead.py
"""

import statistics
import time

import taskflow

N = 2000


def per_call(fn, n=N):
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def main():
    tf = taskflow.TaskFlow.open("sqlite::memory:", jwt_secret="taskflow-benchmarks-not-a-secret")
    tf.register(email="bench@example.com", password="correct horse battery", name="Bench")
    me = tf.authenticate(tf.login(email="bench@example.com", password="correct horse battery").access_token)

    def create_then_get():
        t = tf.create_task(me, title="overhead probe", tags=["bench"])
        tf.get_task(me, t.id)

    probe = tf.create_task(me, title="cached probe")

    def get_cached():
        tf.get_task(me, probe.id)

    for _ in range(200):
        create_then_get()
        get_cached()
    print(f"create_then_get: {per_call(create_then_get):.1f} us")
    print(f"get_cached:      {per_call(get_cached, N * 5):.2f} us")


if __name__ == "__main__":
    main()
