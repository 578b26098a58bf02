"""One model, many callers: a single generation thread and a bounded queue in front of it.

The thread loads the engine itself (so the memory's SQLite connection lives in the thread that
uses it), then answers jobs one at a time, in the order they came. A job's pieces go back to the
event loop through an asyncio queue. A job whose caller went away is skipped if it has not
started, and stopped within one piece if it has (closing the generator stops the model).
At most `max_waiting` jobs wait behind the one being answered (0: none wait, only an idle model
takes a job); one more is refused with a `QueueFull` that carries an estimate of when to retry. A
waiting job whose caller went away gives its place up at once.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from chatclone.chat.engine import DEFAULT_PARTNER, Conversation, Engine
from chatclone.chat.generation import ReplyCounts
from chatclone.chat.server.api import CompletionRequest, Usage
from chatclone.prompt import USER, ChatMessage

DEFAULT_MAX_WAITING = 16


@dataclass(frozen=True)
class Event:
    kind: str  # "piece", "done", "error", or "gone" (the caller disconnected)
    text: str = ""
    finish: str | None = None
    usage: Usage | None = None
    error: BaseException | None = None


class Job:
    """One request's generation: the thread puts events, the request's task reads them."""

    def __init__(self, request: CompletionRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.on_cancel: Callable[[Job], None] | None = None  # set by the queue it waits in
        self._loop = loop

    def put(self, event: Event) -> None:
        try:
            self._loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is closed: the server is shutting down
            self.cancelled.set()

    def cancel(self) -> None:
        """Stop this job: skipped if it has not started, stopped within a piece if it has."""
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        if self.on_cancel is not None:
            self.on_cancel(self)


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


class GenerationQueue:
    def __init__(self, load: Callable[[], Engine], max_waiting: int = DEFAULT_MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self.engine: Engine | None = None
        self._load = load
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[Job] = set()  # submitted, neither started nor given up
        self._current: Job | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._seconds = 5.0  # a running mean of one job's time, for Retry-After
        self._thread = threading.Thread(target=self._serve, name="chatclone-generate", daemon=True)

    def start(self) -> Engine:
        """Load the engine in the generation thread and wait for it; its error is raised here."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        assert self.engine is not None
        return self.engine

    def stop(self) -> None:
        """Shutting down: every job, waiting or running, is cancelled, then the thread ends."""
        with self._lock:
            jobs = [*self._queued, *([self._current] if self._current else [])]
        for job in jobs:
            job.cancel()
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def submit(self, job: Job) -> None:
        with self._lock:
            if len(self._queued) + (self._current is not None) > self.max_waiting:
                raise QueueFull(self.retry_after())
            self._queued.add(job)
            job.on_cancel = self._give_up
        self._jobs.put(job)

    def _give_up(self, job: Job) -> None:
        with self._lock:
            self._queued.discard(job)

    def retry_after(self) -> int:
        """Seconds until a place is free, about: a job's mean time (the running one ends by
        then), at most a minute (the openai SDK ignores longer waits)."""
        return min(60, max(1, math.ceil(self._seconds)))

    @property
    def waiting(self) -> int:
        return len(self._queued)

    def _serve(self) -> None:
        try:
            self.engine = self._load()
        except BaseException as e:  # raised by start(), in the caller's thread
            self._failure = e
            return
        finally:
            self._ready.set()
        while (job := self._jobs.get()) is not None:
            with self._lock:
                if job not in self._queued:  # its caller went away while it waited
                    continue
                self._queued.discard(job)
                self._current = job
            try:
                started = time.monotonic()
                answer(self.engine, job)
                self._seconds = 0.7 * self._seconds + 0.3 * (time.monotonic() - started)
            finally:
                with self._lock:
                    self._current = None


def answer(engine: Engine, job: Job) -> None:
    """Generate one job's reply, putting its pieces, then "done" (or "error"), on its queue."""
    request = job.request
    try:
        prompt = prompt_for(engine, request)
        pieces = engine.generator.stream(prompt, request.settings)
        text, stopped = _relay(pieces, job, request.stop)
        if job.cancelled.is_set():
            return
        counts: ReplyCounts | None = getattr(engine.generator, "last_counts", None)
        if counts is None:  # a generator that cannot count (a remote model): estimated
            counts = _estimate(prompt, text, request.settings.max_new_tokens)
        usage = Usage(counts.prompt_tokens, counts.completion_tokens)
        finish = "length" if counts.cut and not stopped else "stop"
        job.put(Event("done", finish=finish, usage=usage))
    except Exception as e:  # answered to the caller (a 4xx/5xx, or an error event mid-stream)
        job.put(Event("error", error=e))


def prompt_for(engine: Engine, request: CompletionRequest) -> list[ChatMessage]:
    """The clone's own system prompt (with memory) and the conversation; a conversation that
    does not end with the other person's message lets the clone text (first, or again)."""
    messages = request.messages
    conversation = Conversation(engine, request.partner or DEFAULT_PARTNER)
    if messages and messages[-1]["role"] == USER:
        conversation.history = list(messages[:-1])
        return conversation.prompt_for(messages[-1]["content"])
    conversation.history = list(messages)
    return conversation.prompt_for("")


def _relay(pieces: Iterator[str], job: Job, stops: Sequence[str]) -> tuple[str, bool]:
    """Pass the pieces on until the generator ends, a stop string appears (not passed on) or
    the caller goes away; the text passed on, and whether a stop string ended it."""
    cutter = StopCutter(stops)
    sent: list[str] = []
    stopped = False
    try:
        for piece in pieces:
            if job.cancelled.is_set():
                break
            out, stopped = cutter.feed(piece)
            if out:
                sent.append(out)
                job.put(Event("piece", out))
            if stopped:
                break
        else:
            rest = cutter.flush()
            if rest:
                sent.append(rest)
                job.put(Event("piece", rest))
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # a local model stops generating here
    return "".join(sent), stopped


class StopCutter:
    """Streams text with `stops` removed: text that might be the start of a stop string is held
    back until the next piece says whether it is."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        text = self._held + piece
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self._held = ""
            return text[: min(hits)], True
        keep = max((_overlap(text, s) for s in self.stops), default=0)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of `text` that is a beginning of `stop`."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-n:]):
            return n
    return 0


def _estimate(prompt: Sequence[ChatMessage], text: str, limit: int) -> ReplyCounts:
    """Counts for a generator that cannot count its tokens: about four characters each."""
    written = _tokens(text)
    return ReplyCounts(sum(_tokens(m["content"]) + 4 for m in prompt), written, written >= limit)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)
