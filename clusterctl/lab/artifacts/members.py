"""What goes into an artifact: a sorted list of members, and how to lay them out on disk.

Every archive writer (tar, rpm, deb) works from the same member list, so the
three JDK artifacts hold the same files, and the cache can fingerprint inputs
without knowing which writer will consume them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

# Every member gets this mtime (2020-01-01 UTC) so that unchanged inputs give
# byte-identical archives whatever the source files' own timestamps are.
FIXED_MTIME = 1577836800

DIR, FILE, SYMLINK = "dir", "file", "symlink"


@dataclass(frozen=True)
class Member:
    """One entry of an artifact.

    ``name`` is the '/'-separated path inside the artifact. A file's bytes come
    from ``source`` (a real file, symlinks already followed) or from ``data``;
    a symlink's ``target`` is relative and stays inside the artifact.
    """

    name: str
    kind: str
    mode: int = 0o644
    source: Path | None = None
    data: bytes | None = None
    target: str | None = None

    def size(self) -> int:
        if self.kind != FILE:
            return 0
        return len(self.data) if self.data is not None else self.source.stat().st_size

    def read(self) -> bytes:
        return self.data if self.data is not None else self.source.read_bytes()


def normal_mode(st_mode: int, kind: str) -> int:
    """0755 for directories and anything executable, 0644 otherwise: no umask or owner leaks in."""
    if kind == DIR or (kind == FILE and st_mode & 0o111):
        return 0o755
    return 0o644


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _under_excluded(rel: str, excluded: Callable[[str], bool]) -> bool:
    """True if ``rel`` or any directory above it is excluded (the walk never enters those)."""
    parts = rel.split("/")
    return any(excluded("/".join(parts[:depth])) for depth in range(1, len(parts) + 1))


def members_from_tree(root: Path, top: str, excluded: Callable[[str], bool]) -> list[Member]:
    """Members for the tree at ``root``, placed under ``top/``, sorted by name.

    ``excluded(rel)`` drops a path (and everything below it), ``rel`` being
    '/'-separated and relative to ``root``. Symlinks that stay inside ``root``
    are kept as relative links; those that leave it are followed, so the
    artifact is self-contained; dangling ones are dropped.
    """
    root = root.resolve()
    members = [Member(top, DIR, 0o755)]

    def walk(directory: Path, rel_dir: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            rel = f"{rel_dir}{entry.name}"
            if excluded(rel):
                continue
            name = f"{top}/{rel}"
            path = Path(entry.path)
            if entry.is_symlink():
                target = os.readlink(path)
                resolved = path.resolve()
                if not resolved.exists():
                    continue
                rel_target = resolved.relative_to(root).as_posix() if _inside(resolved, root) else None
                if not os.path.isabs(target) and rel_target is not None \
                        and not _under_excluded(rel_target, excluded):
                    members.append(Member(name, SYMLINK, 0o777, target=target))
                    continue
                path = resolved
            if path.is_dir():
                members.append(Member(name, DIR, 0o755))
                walk(path, rel + "/")
            elif path.is_file():
                members.append(Member(name, FILE, normal_mode(path.stat().st_mode, FILE), source=path))

    walk(root, "")
    return sorted(members, key=lambda m: m.name)


def with_parents(members: Iterable[Member]) -> list[Member]:
    """``members`` plus a directory member for every missing parent, sorted by name."""
    by_name = {m.name: m for m in members}
    for name in list(by_name):
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            by_name.setdefault(parent, Member(parent, DIR, 0o755))
    return sorted(by_name.values(), key=lambda m: m.name)


def materialize(members: Iterable[Member], dest: Path) -> None:
    """Lay ``members`` out under ``dest`` with their modes and FIXED_MTIME.

    Files are copied, never hard-linked: the staged tree gets chmod/utime and
    must not touch the installed sources.
    """
    directories = []
    for member in members:
        path = dest / member.name
        if member.kind == DIR:
            path.mkdir(parents=True, exist_ok=True)
            directories.append((path, member.mode))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if member.kind == SYMLINK:
            os.symlink(member.target, path)
        elif member.data is not None:
            path.write_bytes(member.data)
        else:
            shutil.copyfile(member.source, path)
        if member.kind == FILE:
            os.chmod(path, member.mode)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    # Directory times last: creating their children above moved them.
    for path, mode in reversed(directories):
        os.chmod(path, mode)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
