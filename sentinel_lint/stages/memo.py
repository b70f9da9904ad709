"""The whole-run memo: a run where nothing changed is answered from one cache entry, reading no file.

Keyed by the settings, the checked paths and every project file's path, size and modification time (as ruff's
cache assumes); it also records the content of every file it reports a finding in, because sizes and times can
stay the same while the text changes (``cp -p``, tar, ``rsync -a``), and a fix must never land on stale positions.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .. import codec
from ..cache import Cache
from ..config import Settings
from ..source import read_source_bytes
from .plan import Plan
from .scan import content_digest


@dataclass
class RunMemo:
    result: object  # RunResult
    reported: tuple  # ((display, content digest), ...) of the files with findings


def run_key(settings: Settings, plan: Plan) -> str:
    key = hashlib.blake2b(repr((settings.fingerprint(), plan.reported, sorted(plan.explicit))).encode(),
                          digest_size=20)
    for entry in plan.files:
        try:
            st = os.stat(entry.path)
        except OSError:
            key.update(f"{entry.display}:missing".encode())
            continue
        key.update(f"{entry.display}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for error in plan.errors:  # a directory that became unreadable changes what the run sees
        key.update(f"{error.path}:{error.reason}\n".encode())
    return key.hexdigest()


def _file_digest(plan: Plan, display: str) -> str | None:
    entry = plan.entry(display)
    if entry is None:
        return None
    try:
        return content_digest(read_source_bytes(entry.path), display)
    except OSError:
        return None


def load(cache: Cache, key: str, plan: Plan):
    """The stored result of this very run, if every file it reports on still holds the text it was computed on."""
    memo = cache.get("run-" + key, RunMemo)
    if memo is None:
        return None
    for display, digest in memo.reported:
        if _file_digest(plan, display) != digest:
            return None
    return memo.result


def store(cache: Cache, key: str, result, plan: Plan) -> None:
    reported = []
    for display in sorted({d.path for d in result.diagnostics}):
        digest = _file_digest(plan, display)
        if digest is None:
            return
        reported.append((display, digest))
    cache.put("run-" + key, RunMemo(result, tuple(reported)))


codec.register(RunMemo)
