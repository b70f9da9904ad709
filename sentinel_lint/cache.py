"""The on-disk cache: data only, authenticated, outside the checked repository by default.

Three promises, because the cache sits on the path of every pre-commit hook and CI job that checks untrusted code:

* **Nothing in it can run.**  Entries are JSON read back through ``codec`` (which builds only registered plain-data
  classes), never pickle.
* **Only this user's own entries are believed.**  Each entry carries a keyed BLAKE2 MAC; the key is a random secret
  kept in the user's cache directory, which no repository can read or plant.  An entry a repository commits, one
  another user wrote, a truncated one or one of another version fails the check and is a miss: it is recomputed
  and rewritten, and findings are exactly those of a run without cache.
* **No link is followed.**  The cache directory, its subdirectories and its entries are opened without following
  symbolic links (``O_NOFOLLOW`` relative to directory descriptors), so a link planted at any of those names cannot
  redirect a read or a write; a cache directory that is a link is not used at all.

Default location: ``$SENTINEL_LINT_CACHE_DIR``, else ``<user cache>/sentinel-lint/projects/<hash of the project
root>``, where ``<user cache>`` is ``$XDG_CACHE_HOME`` or ``~/.cache`` (``~/Library/Caches`` on macOS,
``%LOCALAPPDATA%`` on Windows), as ruff and mypy keep theirs per user.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import sys
from pathlib import Path

from . import codec

_MAGIC = b"sentinel-lint-cache/2\n"
_MAC_BYTES = 32
MAX_ENTRY_BYTES = 512 * 1024 * 1024  # a bigger file is not one we wrote
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_SAFE_OPEN = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")


def user_cache_root() -> Path:
    """The per-user cache directory of this platform."""
    env = os.environ.get("XDG_CACHE_HOME")
    if env and os.path.isabs(env):
        return Path(env)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        if local:
            return Path(local)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path.home() / ".cache"


def default_cache_dir(project_root: Path) -> Path:
    env = os.environ.get("SENTINEL_LINT_CACHE_DIR")
    if env:
        return Path(env)
    key = hashlib.blake2b(os.path.abspath(project_root).encode("utf-8", "surrogateescape"), digest_size=8)
    return user_cache_root() / "sentinel-lint" / "projects" / key.hexdigest()


def _secret() -> bytes:
    """This user's cache key: read from (or created in) the user cache directory; a fresh one per process where
    that is impossible (the cache then only helps within one run)."""
    override = os.environ.get("SENTINEL_LINT_CACHE_KEY_FILE")  # for tests and for CI runners that move the cache
    path = Path(override) if override else user_cache_root() / "sentinel-lint" / "cache.key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            key = fh.read(64)
        # A key others can write, or that is not ours, could be chosen by someone else: do not trust it.
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if len(key) >= 32 and stat.S_ISREG(info.st_mode) and mine and not info.st_mode & 0o022:
            return key
    except OSError:
        pass
    return secrets.token_bytes(32)


class Cache:
    """Entries by name (a content digest) in ``directory/<version>/<name[:2]>/<name>``.

    ``get`` returns None for anything missing, unreadable, forged, corrupt or of another type; ``put`` never raises.
    """

    def __init__(self, directory: Path | None, version: str):
        self.directory: Path | None = None
        self._key = b""
        if directory is None:
            return
        try:
            if directory.is_symlink():
                return  # a link could point anywhere, written through on every run
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            info = os.lstat(directory)
            if not stat.S_ISDIR(info.st_mode):
                return
            ignore = directory / ".gitignore"  # a cache placed inside a repository stays out of commits
            if not os.path.lexists(ignore):
                ignore.write_text("# created by sentinel-lint\n*\n", encoding="utf-8")
            versioned = directory / f"v-{version}"
            if versioned.is_symlink():
                return
            versioned.mkdir(exist_ok=True, mode=0o700)
        except OSError:
            return
        self.directory = versioned
        self._key = _secret()

    # -- integrity ----------------------------------------------------------------------------------------------
    def _mac(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._key, digest_size=_MAC_BYTES, person=b"sentinel-lint").digest()

    def _seal(self, value) -> bytes:
        payload = codec.dumps(value)
        return _MAGIC + self._mac(payload).hex().encode() + b"\n" + payload

    def _open(self, raw: bytes):
        if not raw.startswith(_MAGIC):
            return None
        head, sep, payload = raw[len(_MAGIC):].partition(b"\n")
        if not sep or not hmac.compare_digest(head, self._mac(payload).hex().encode()):
            return None
        try:
            return codec.loads(payload)
        except codec.DecodeError:
            return None

    # -- files --------------------------------------------------------------------------------------------------
    def get(self, name: str, expected: type | tuple[type, ...] | None = None):
        """The value stored under ``name``, or None; with ``expected``, None unless it is of that type."""
        if self.directory is None:
            return None
        raw = self._read(name)
        value = self._open(raw) if raw is not None else None
        if value is not None and expected is not None and not isinstance(value, expected):
            return None
        return value

    def put(self, name: str, value) -> None:
        if self.directory is None:
            return
        try:
            data = self._seal(value)
        except (TypeError, ValueError, RecursionError):
            return  # not plain data: not cached (a bug to fix, not a reason to fail a run)
        self._write(name, data)

    def _read(self, name: str) -> bytes | None:
        sub, leaf = name[:2], f"{name}.json"
        if not _SAFE_OPEN:
            path = self.directory / sub / leaf
            try:
                if path.is_symlink() or path.parent.is_symlink():
                    return None
                with open(path, "rb") as fh:
                    return _bounded(fh)
            except OSError:
                return None
        top = subdir = fd = -1
        try:
            top = os.open(self.directory, _DIR_FLAGS)
            subdir = os.open(sub, _DIR_FLAGS, dir_fd=top)
            fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=subdir)
            with os.fdopen(fd, "rb") as fh:
                fd = -1
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    return None
                return _bounded(fh)
        except OSError:
            return None
        finally:
            for d in (fd, subdir, top):
                if d >= 0:
                    os.close(d)

    def _write(self, name: str, data: bytes) -> None:
        sub, leaf = name[:2], f"{name}.json"
        tmp = f".{leaf}.{secrets.token_hex(6)}.tmp"
        if not _SAFE_OPEN:
            path = self.directory / sub
            try:
                path.mkdir(exist_ok=True)
                (path / tmp).write_bytes(data)
                os.replace(path / tmp, path / leaf)
            except OSError:
                pass
            return
        top = subdir = -1
        try:
            top = os.open(self.directory, _DIR_FLAGS)
            try:
                os.mkdir(sub, 0o700, dir_fd=top)
            except FileExistsError:
                pass
            subdir = os.open(sub, _DIR_FLAGS, dir_fd=top)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=subdir)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, leaf, src_dir_fd=subdir, dst_dir_fd=subdir)
            except OSError:
                try:
                    os.unlink(tmp, dir_fd=subdir)
                except OSError:
                    pass
        except OSError:
            pass
        finally:
            for d in (subdir, top):
                if d >= 0:
                    os.close(d)


def _bounded(fh) -> bytes | None:
    data = fh.read(MAX_ENTRY_BYTES + 1)
    return data if len(data) <= MAX_ENTRY_BYTES else None
