"""Rebuild an artifact only when its inputs changed.

Beside each artifact sits a stamp (``.<name>.stamp.json``) recording what it
was built from. A rebuild is skipped when the recipe is the same and the
inputs are: first compared by their stat signature (paths, sizes, mtimes: a
few milliseconds for the whole JDK), and when that differs, by content (a
second or so), so a touched-but-identical input costs no rebuild. Builds are
deterministic too, so even without a stamp an identical rebuild keeps the old
file and its mtime.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .members import FILE, Member

STAMP_FORMAT = 1
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _record(*fields: object) -> bytes:
    return ("\0".join(str(f) for f in fields) + "\n").encode()


def stat_signature(members: Iterable[Member]) -> str:
    """A digest of where the members come from and their sizes and mtimes; cheap, may miss nothing
    that apt or an editor would change."""
    digest = hashlib.sha256()
    for m in members:
        if m.kind == FILE and m.data is None:
            st = m.source.stat()
            digest.update(_record(m.name, m.kind, m.mode, m.source, st.st_size, st.st_mtime_ns))
        else:
            data_hash = hashlib.sha256(m.data).hexdigest() if m.data is not None else ""
            digest.update(_record(m.name, m.kind, m.mode, m.target, data_hash))
    return digest.hexdigest()


def content_digest(members: Iterable[Member]) -> str:
    """A digest of the members' names, kinds, modes, link targets and bytes: what the artifact holds."""
    digest = hashlib.sha256()
    for m in members:
        if m.kind != FILE:
            content = ""
        elif m.data is not None:
            content = hashlib.sha256(m.data).hexdigest()
        else:
            content = file_sha256(m.source)
        digest.update(_record(m.name, m.kind, m.mode, m.target, content))
    return digest.hexdigest()


@dataclass(frozen=True)
class Stamp:
    """What an artifact was built from, and how to recognise the artifact itself."""

    recipe: str  # sha256 of the recipe text
    stat_signature: str
    content_digest: str
    artifact_size: int
    artifact_mtime_ns: int
    artifact_sha256: str
    format: int = STAMP_FORMAT

    def describes(self, artifact: Path) -> bool:
        """True if ``artifact`` is still the very file this stamp was written for."""
        try:
            st = artifact.stat()
        except FileNotFoundError:
            return False
        return (st.st_size, st.st_mtime_ns) == (self.artifact_size, self.artifact_mtime_ns)


def stamp_path(artifact: Path) -> Path:
    return artifact.with_name(f".{artifact.name}.stamp.json")


def read_stamp(artifact: Path) -> Stamp | None:
    """The stamp beside ``artifact``, or None if absent, unreadable or of another format."""
    try:
        fields = json.loads(stamp_path(artifact).read_text())
        stamp = Stamp(**fields)
    except (OSError, ValueError, TypeError):
        return None
    return stamp if stamp.format == STAMP_FORMAT else None


def write_stamp(artifact: Path, stamp: Stamp) -> None:
    path = stamp_path(artifact)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(stamp), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def artifact_sha256(artifact: Path) -> str:
    """Hex sha256 of ``artifact``, taken from its stamp when the stamp still describes it."""
    stamp = read_stamp(artifact)
    if stamp is not None and stamp.describes(artifact):
        return stamp.artifact_sha256
    return file_sha256(artifact)


@contextlib.contextmanager
def build_lock(artifact: Path) -> Iterator[None]:
    """Serialise builds of one artifact across processes (a demo and a test run may overlap)."""
    lock_path = artifact.with_name(f".{artifact.name}.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_cached(artifact: Path, members: list[Member], recipe: str, build: Callable[[Path], None]) -> Path:
    """Return ``artifact``, calling ``build(tmp_path)`` only if its inputs or recipe changed.

    ``recipe`` names everything besides ``members`` that shapes the output
    (builder version, generated spec text, compression). A new build is
    written beside the artifact and renamed over it atomically, unless its
    bytes equal the old file's, which is then kept untouched.
    """
    artifact.parent.mkdir(parents=True, exist_ok=True)
    recipe = hashlib.sha256(recipe.encode()).hexdigest()
    with build_lock(artifact):
        signature = stat_signature(members)
        stamp = read_stamp(artifact)
        reusable = stamp is not None and stamp.recipe == recipe and stamp.describes(artifact)
        if reusable and stamp.stat_signature == signature:
            return artifact
        digest = content_digest(members)
        if reusable and stamp.content_digest == digest:
            write_stamp(artifact, Stamp(recipe, signature, digest, stamp.artifact_size,
                                        stamp.artifact_mtime_ns, stamp.artifact_sha256))
            return artifact

        tmp = artifact.with_name(f".{artifact.name}.{os.getpid()}.tmp")
        try:
            build(tmp)
            new_sha = file_sha256(tmp)
            if artifact.exists() and artifact_sha256(artifact) == new_sha:
                tmp.unlink()
            else:
                os.replace(tmp, artifact)
        finally:
            tmp.unlink(missing_ok=True)
        st = artifact.stat()
        write_stamp(artifact, Stamp(recipe, signature, digest, st.st_size, st.st_mtime_ns, new_sha))
        return artifact
