"""A node's disk: a tmpfs on this machine holding the overlay's upper and work directories.

The tmpfs lives in this machine's mount namespace, not the node's, so the disk
outlives the node's processes: stopping and starting a node is a reboot, not a
reinstall. It is also what lets the overlay take '/' as its lower layer, which
refuses an upper directory on the same filesystem as the lower.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import LabError
from .host_tools import run_tool

DEFAULT_DISK_SIZE = "6g"
_SIZE = re.compile(r"^[1-9][0-9]*[kmg]?$|^[1-9][0-9]?%$", re.IGNORECASE)


def check_disk_size(size: str) -> str:
    """Return ``size`` if tmpfs accepts it (like 6g, 512m or 10%), else raise LabError."""
    if not _SIZE.match(size):
        raise LabError(f"bad node disk size {size!r}: give a tmpfs size like 6g, 512m or 10%")
    return size


def mount_node_disk(node_dir: Path, size: str, label: str) -> Path:
    """Mount the node's tmpfs at ``node_dir``/fs with empty upper/, work/ and merged/; return its path.

    Memory is taken only as files are written; ``size`` caps it.
    """
    disk = node_dir / "fs"
    disk.mkdir(parents=True)
    run_tool(["mount", "-t", "tmpfs", "-o", f"size={check_disk_size(size)},mode=0755", label, str(disk)])
    for part in ("upper", "work", "merged"):
        (disk / part).mkdir(mode=0o755)
    return disk


def mounts_below(directory: Path) -> list[Path]:
    """Mount points at or below ``directory`` in this mount namespace, deepest first."""
    prefix = str(directory).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = unescape_mount_field(line.split()[4])
        if point == prefix.rstrip("/") or point.startswith(prefix):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def unmount_below(directory: Path) -> None:
    """Unmount everything mounted at or below ``directory``; a busy mount is detached lazily."""
    for point in mounts_below(directory):
        run_tool(["umount", str(point)], check=False)
    for point in mounts_below(directory):
        run_tool(["umount", "--lazy", str(point)])


def unescape_mount_field(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space, ...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
