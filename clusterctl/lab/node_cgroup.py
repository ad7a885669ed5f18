"""A node's cgroup: the directory in this machine's cgroup2 tree that becomes the root of the node's own.

systemd as a node's init needs a cgroup2 tree it may write to. Each node gets
a cgroup of its own below the lab's; its pid 1 joins it and mounts cgroup2
from a cgroup namespace rooted there, so the node sees that cgroup as '/' and
cannot reach the machine's. The cgroups live on this machine, not in the
node, so they are removed here once the node's processes are gone.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path, PurePosixPath

from .errors import LabError
from .node_disk import unescape_mount_field

_REMOVE_RETRY = 2.0  # seconds for the kernel to empty a cgroup whose last process is exiting


def cgroup2_mount() -> tuple[Path, PurePosixPath]:
    """Where this machine's cgroup2 tree is mounted, and which of its cgroups that mount shows as its top.

    Raises LabError if no cgroup2 hierarchy is mounted.
    """
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, filesystem = line.partition(" - ")
        if filesystem.split()[0] == "cgroup2":
            parts = fields.split()
            return Path(unescape_mount_field(parts[4])), PurePosixPath(unescape_mount_field(parts[3]))
    raise LabError("no cgroup2 hierarchy is mounted on this machine: mount one with "
                   "'mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified' (or boot with the unified hierarchy)")


def _tree() -> Path | None:
    """The mount point of this machine's cgroup2 tree, or None if it has none (then no lab made cgroups)."""
    try:
        return cgroup2_mount()[0]
    except LabError:
        return None


def create_node_cgroup(cgroup: PurePosixPath) -> PurePosixPath:
    """Create the node's (empty) cgroup; return its path from the top of the tree, as the node's init joins it."""
    mount_point, top = cgroup2_mount()
    for _ in range(3):
        try:
            (mount_point / cgroup).mkdir(parents=True, exist_ok=True)
            break
        except FileNotFoundError:
            continue  # another lab removed the shared parent between our mkdirs; make it again
    else:
        raise LabError(f"could not create the cgroup {mount_point / cgroup}")
    return top / cgroup


def remove_cgroup_tree(cgroup: PurePosixPath) -> None:
    """Remove ``cgroup`` and every cgroup below it (the node's init leaves its own there); gone is fine.

    Raises LabError if one still holds processes.
    """
    mount_point = _tree()
    top = mount_point / cgroup if mount_point else None
    if top is None or not top.is_dir():
        return
    for directory, _, _ in os.walk(top, topdown=False):  # children before their parents
        _remove_cgroup(Path(directory))


def remove_if_empty(cgroup: PurePosixPath) -> None:
    """Remove ``cgroup`` unless it still has children (another lab's) or is gone already."""
    mount_point = _tree()
    try:
        if mount_point:
            (mount_point / cgroup).rmdir()
    except OSError:
        pass


def _remove_cgroup(directory: Path) -> None:
    deadline = time.monotonic() + _REMOVE_RETRY
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                procs = (directory / "cgroup.procs").read_text().split() if exc.errno == errno.EBUSY else []
                raise LabError(f"cannot remove the cgroup {directory}: {exc.strerror}"
                               + (f" (processes {', '.join(procs)} are still in it)" if procs else "")) from None
            time.sleep(0.02)
