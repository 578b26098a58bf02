"""A generator run in a forked process, its items streamed back through a pipe.

For work that is CPU-bound Python on both sides (parsing a file while the store is written,
reading sessions while samples are made): a thread would take turns with this process for the
interpreter, a child runs beside it on another core. The child gets a copy of everything at the
fork, so it starts at once, with no set-up sent to it; what it learns by the end (a report,
counts, a mapping) comes back as the generator's return value. An error in the child is raised
here, whole where it can be pickled and as its text where not; a child is never left behind.

Linux only: macOS frameworks are not safe to use after a fork, and Windows has none.
`CHATCLONE_READ_PROCESS=0` turns it off (everything then runs in this process).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection, Pipe
from typing import Any, TypeVar

from chatclone.errors import ChatcloneError

T = TypeVar("T")
_PICKLE = pickle.HIGHEST_PROTOCOL
ENV_VAR = "CHATCLONE_READ_PROCESS"

# What the child makes: its items, told `notify` to send progress (any picklable value) back.
Produce = Callable[[Callable[[Any], None]], Iterator[T]]


def available() -> bool:
    return sys.platform == "linux" and os.environ.get(ENV_VAR, "1") != "0"


def stream(
    produce: Produce[T],
    finish: Callable[[], Any],
    label: str,
    progress: Callable[[Any], None] | None = None,
) -> Generator[T, None, Any]:
    """The items of `produce(notify)`, made in a forked child; returns `finish()` as the child
    saw it once the items ran out. `label` names the work in errors ("FILE: the process reading it
    stopped unexpectedly"); `progress` receives what the child passes to `notify`."""
    receiver, sender = Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork with threads running (a progress bar's): the child only
        # works and writes to its pipe, and never touches a lock those threads could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        receiver.close()
        _child(produce, finish, label, sender)
    sender.close()
    done = False
    try:
        while True:
            try:
                message: tuple[Any, ...] = pickle.loads(receiver.recv_bytes())
            except EOFError:
                raise ChatcloneError(
                    f"{label}: the process reading it stopped unexpectedly"
                ) from None
            what = message[0]
            if what == "item":
                yield message[1]
            elif what == "progress":
                if progress is not None:
                    progress(message[1])
            elif what == "error":
                raise message[1]
            else:  # "done"
                done = True
                return message[1]
    finally:
        receiver.close()
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _child(produce: Produce[Any], finish: Callable[[], Any], label: str, pipe: Connection) -> None:
    code = 0
    try:

        def notify(value: Any) -> None:
            pipe.send_bytes(pickle.dumps(("progress", value), _PICKLE))

        for item in produce(notify):
            pipe.send_bytes(pickle.dumps(("item", item), _PICKLE))
        pipe.send_bytes(pickle.dumps(("done", finish()), _PICKLE))
    except BaseException as e:
        code = 1
        try:
            payload = pickle.dumps(("error", e), _PICKLE)
            pickle.loads(payload)  # an exception that cannot be rebuilt goes back as its text
        except Exception:
            error = ChatcloneError(f"{label}: {type(e).__name__}: {e}")
            payload = pickle.dumps(("error", error), _PICKLE)
        with contextlib.suppress(BaseException):
            pipe.send_bytes(payload)
    finally:
        # No clean-up of the parent's objects (its store connection, its buffered output).
        os._exit(code)
