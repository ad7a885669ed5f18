"""The programs the lab runs on this machine: which are needed, and running them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from .errors import LabError

# tool -> the Debian package that ships it, for the error message.
REQUIRED_TOOLS = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "setpriv": "util-linux",
    "pivot_root": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "chroot": "coreutils",
    "chpasswd": "passwd",
    "ssh-keygen": "openssh-client",
}
# The nodes run the machine's own sshd through the overlay, so it must be at this path.
SSHD = "/usr/sbin/sshd"
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def tool_path(tool: str) -> str:
    """Absolute path of ``tool``, looking in the sbin directories too (a plain user's PATH lacks them)."""
    path = shutil.which(tool, path=_SEARCH_PATH)
    if path is None:
        package = REQUIRED_TOOLS.get(tool, tool)
        raise LabError(f"'{tool}' is missing on this machine: install the {package} package")
    return path


def check_required_tools() -> None:
    """Raise LabError naming the package to install for the first missing tool."""
    if not os.access(SSHD, os.X_OK):
        raise LabError(f"{SSHD} is missing on this machine: install the openssh-server package")
    for tool in REQUIRED_TOOLS:
        tool_path(tool)


def run_tool(argv: Sequence[str], *, input: bytes | None = None, check: bool = True) -> str:
    """Run a host tool and return its stdout; on failure raise LabError with the command and its stderr."""
    argv = [tool_path(argv[0]), *argv[1:]]
    result = subprocess.run(argv, input=input, capture_output=True)
    if check and result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().replace("\n", "; ")
        raise LabError(f"'{' '.join(argv)}' failed (exit {result.returncode}): {message}")
    return result.stdout.decode(errors="replace")
