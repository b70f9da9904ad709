"""Worker processes for the per-file stages (scan, kernel analysis): one pool per run, forked on first use.

The pool is forked at the first parallel map, before the parent has accumulated the project's facts, and serves
every later stage (forking again after the facts are in memory would copy them into every worker).  What a worker
needs (the cache, the prefilter's needles) is handed over once by the pool's initializer and given to each task
as ``state``; nothing is passed through module globals of the parent.

A worker process that dies (a native parser that overflows its stack kills the process, not just the call) costs
only the items it had not answered: each is run again in a process of its own, and the one that dies again gets
``crashed(item, reason)`` as its result.
"""
from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

_STATE = None  # in a worker process: the state its initializer received
MIN_PARALLEL = 8  # fewer items than this run in the parent: a pool costs more than it saves


def _initialise(state) -> None:
    global _STATE
    _STATE = state


def _call(task):
    worker, item = task
    return worker(_STATE, item)


class Workers:
    """``map(worker, items, crashed)``: ``worker(state, item)`` for each item, in order, on ``jobs`` processes."""

    def __init__(self, jobs: int | None, state):
        self.jobs = jobs or os.cpu_count() or 1
        self.state = state
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, worker, items: list, crashed, *, progress=None, chunk: int | None = None):
        if self.jobs <= 1 or len(items) < MIN_PARALLEL:
            for item in items:
                result = worker(self.state, item)
                if progress:
                    progress(1)
                yield result
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=get_context("fork"),
                                             initializer=_initialise, initargs=(self.state,))
        chunk = chunk or max(1, min(16, len(items) // (self.jobs * 4)))
        done = 0
        try:
            for result in self._pool.map(_call, [(worker, item) for item in items], chunksize=chunk):
                done += 1
                if progress:
                    progress(1)
                yield result
        except BrokenProcessPool:
            self._pool = None  # the next stage forks a fresh one
            for item in items[done:]:
                result = _isolated(worker, self.state, crashed, item)
                if progress:
                    progress(1)
                yield result


def _isolated(worker, state, crashed, item):
    """``worker(state, item)`` in a forked child of its own; ``crashed(item, reason)`` if the child dies."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            with os.fdopen(write_end, "wb") as out:
                # pickle, between this process and its own child only: nothing read from disk
                out.write(pickle.dumps(worker(state, item)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) or not data:
        signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        return crashed(item, f"the analyser crashed on this file (signal {signal}); not analysed")
    return pickle.loads(data)
