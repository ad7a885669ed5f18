"""The sha256 of the controller's package files, remembered between runs.

Every run compares each host's staged copy with the package's hash, and
hashing a JDK of 70 MB took half a second of a no-op run. As git's index and
make do, a file whose identity and times are unchanged is taken to hold the
bytes it held when it was hashed: the cache is keyed by path, size, inode,
mtime and ctime (in nanoseconds). Restoring an mtime with ``touch -d`` still
changes the ctime, so only a clock set back could fool it. A file changed in
the same instant as it was hashed cannot be told apart by its times, so a hash
is only remembered once the file is a few seconds old.

The cache lives in ``$XDG_CACHE_HOME/clusterctl/sha256.json`` (``~/.cache``):
losing it costs one hash per file. It is written only by runs allowed to
leave files on this machine (not ``plan`` or a dry run, see
:func:`remember_between_runs`), atomically, so concurrent runs never see half
a file; the newest :data:`KEPT` entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

READ_CHUNK = 1 << 20
KEPT = 64  # entries: a handful of packages per cluster, a few clusters
SETTLED = 3.0  # seconds since a file's last change before its hash is remembered between runs

_in_process: dict[tuple, str] = {}
_lock = threading.Lock()
_persist = False


def remember_between_runs(enabled: bool = True) -> None:
    """Let this process write the cache (a run that may leave files on this machine)."""
    global _persist
    _persist = enabled


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clusterctl" / "sha256.json"


def _key(path: Path, st: os.stat_result) -> tuple:
    return (str(path.resolve()), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(entries: dict[str, str]) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sha256.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(dict(list(entries.items())[-KEPT:]), fh)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs the next run a hash


def sha256_of(path: Path) -> str:
    """The file's sha256: from this process's memory, the cache of earlier runs, or read now."""
    st = path.stat()
    key = _key(path, st)
    with _lock:
        if key in _in_process:
            return _in_process[key]
        name = json.dumps(key)
        cached = _read_cache()
        if name in cached:
            _in_process[key] = cached[name]
            return cached[name]
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                digest.update(chunk)
        _in_process[key] = digest.hexdigest()
        if _persist and time.time() - st.st_mtime_ns / 1e9 > SETTLED and _key(path, path.stat()) == key:
            cached.pop(name, None)
            cached[name] = _in_process[key]
            _write_cache(cached)
        return _in_process[key]
