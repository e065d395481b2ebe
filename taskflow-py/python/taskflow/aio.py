"""The asyncio flavour: ``taskflow.aio.TaskFlow`` has the methods of ``taskflow.TaskFlow``
as coroutines, scheduled on TaskFlow's own Tokio runtime (no thread per call).

    tf = await taskflow.aio.TaskFlow.open("sqlite:///tmp/tasks.db", jwt_secret=secret)
    pair = await tf.login("a@example.com", "correct horse")
"""

from ._taskflow import AsyncTaskFlow as TaskFlow

__all__ = ["TaskFlow"]
