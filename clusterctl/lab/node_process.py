"""A lab node as processes on this machine: booting it, finding its pid 1, running commands in it, stopping it.

A node is one process tree: ``ip netns exec NS unshare --mount --uts --pid
--fork`` (the supervisor, whose pid is recorded) and its child, the node's pid
1, which builds the node's root (node-init.sh) and then becomes its init. The
supervisor is the only process the lab starts itself; everything else is
found from its recorded pid, which is checked against the process start time
so a reused pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from .errors import LabError
from .host_tools import tool_path

SUPERVISOR_PID_FILE = "supervisor.pid"
CONSOLE_LOG = "console.log"
NODE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "USER": "root",
    "LOGNAME": "root",
    "SHELL": "/bin/bash",
    "LANG": "C.UTF-8",
}

# Supervisors started by this process, by pid, so they are reaped through
# subprocess's own bookkeeping (a bare os.waitpid would confuse it).
_started: dict[int, subprocess.Popen] = {}

# The node's boot script, what it runs at first boot, and the init of a node booted without
# a service manager (package files).
NODE_INIT_SCRIPT = Path(__file__).with_name("node-init.sh")
FIRST_BOOT_SCRIPT = Path(__file__).with_name("first-boot.sh")
MINIMAL_INIT_SCRIPT = Path(__file__).with_name("minimal-init.sh")
SYSTEMD = "/lib/systemd/systemd"  # what node-init.sh execs as the node's init: the machine's own, through the overlay
SHUTDOWN_GRACE = 15.0  # seconds a clean shutdown may take before the node's processes are killed
KILL_WAIT = 5.0  # seconds for killed processes to be gone


class NodeInit(StrEnum):
    """What runs as a node's pid 1."""

    SYSTEMD = "systemd"  # the distribution's service manager: sshd runs as ssh.service
    NONE = "none"  # a bash loop that runs sshd itself: the quickest boot, no service manager

    @property
    def shutdown_signal(self) -> int:
        """The signal that asks this init for a clean shutdown.

        systemd as a container's pid 1 powers off on SIGRTMIN+4 (SIGTERM would
        make it re-execute itself); the minimal init stops on SIGTERM.
        """
        return signal.SIGRTMIN + 4 if self is NodeInit.SYSTEMD else signal.SIGTERM


DEFAULT_INIT = NodeInit.SYSTEMD


@dataclass(frozen=True)
class FirstBoot:
    """The accounts a node gets at its first boot: root's password, and perhaps a login user (first-boot.sh)."""

    root_password_file: Path
    user: str | None = None
    user_password_file: Path | None = None
    authorized_key_file: Path | None = None  # the key the login user accepts, None for none

    def argv(self) -> list[str]:
        """first-boot.sh and its arguments but the node's root, which node-init.sh puts first."""
        argv = [str(FIRST_BOOT_SCRIPT), str(self.root_password_file)]
        if self.user is not None:
            argv += [self.user, str(self.user_password_file), str(self.authorized_key_file or "-")]
        return argv


def check_init(init: str) -> NodeInit:
    """The init named ``init``, or LabError naming the choices."""
    try:
        return NodeInit(init)
    except ValueError:
        choices = ", ".join(kind.value for kind in NodeInit)
        raise LabError(f"unknown node init {init!r}: choose one of {choices}") from None


def start_node_process(netns: str, node_dir: Path, hostname: str, init: NodeInit, cgroup: PurePosixPath,
                       first_boot: FirstBoot | None = None) -> int:
    """Boot the node whose disk is mounted at ``node_dir``/fs; record and return the supervisor's pid.

    ``cgroup`` is the node's empty cgroup, as a path from the top of this
    machine's cgroup2 tree. On the node's first boot, ``first_boot`` says
    which accounts to set up before its init starts. Returns as soon as the
    processes are started; the node's first pid 1 builds its root and then
    execs ``init``, which starts sshd.
    """
    disk = node_dir / "fs"
    argv = [tool_path("ip"), "netns", "exec", netns,
            tool_path("unshare"), "--mount", "--uts", "--pid", "--fork", "--kill-child",
            "/bin/bash", str(NODE_INIT_SCRIPT), str(disk), hostname, init.value, str(cgroup),
            str(MINIMAL_INIT_SCRIPT)]
    if first_boot is not None:
        argv += first_boot.argv()
    with open(node_dir / CONSOLE_LOG, "ab") as console:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                   cwd="/", env=NODE_ENV, start_new_session=True)
    _started[process.pid] = process
    # Read the start time at once, while the pid cannot have been reused yet.
    (node_dir / SUPERVISOR_PID_FILE).write_text(f"{process.pid} {_start_time(process.pid)}\n")
    return process.pid


def supervisor_pid(node_dir: Path) -> int | None:
    """The recorded supervisor pid if that very process is still running, else None."""
    try:
        pid_text, start_text = (node_dir / SUPERVISOR_PID_FILE).read_text().split()
        pid, start = int(pid_text), int(start_text)
    except (OSError, ValueError):
        return None
    return pid if _start_time(pid) == start else None


def node_init_pid(supervisor: int) -> int | None:
    """The host pid of the node's pid 1: the supervisor's only child, or None if it has none yet."""
    try:
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def stop_node_processes(node_dirs: list[Path], shutdown: NodeInit | None = None,
                        grace: float = SHUTDOWN_GRACE) -> None:
    """Stop the nodes in ``node_dirs`` together and return once every one is gone; stopped nodes are skipped.

    With ``shutdown``, each pid 1 is asked for a clean shutdown the way that
    init understands, and SIGKILL follows after ``grace`` seconds. Without,
    SIGKILL at once, like pulling the plug. Either way the end of a pid 1 ends
    every process of its node.
    """
    supervisors = [pid for pid in map(supervisor_pid, node_dirs) if pid is not None]
    remaining = supervisors
    if shutdown is not None:
        for supervisor in supervisors:
            _signal_node(supervisor, shutdown.shutdown_signal)
        remaining = _wait_exited(supervisors, grace)
    for supervisor in remaining:
        _signal_node(supervisor, signal.SIGKILL)
    remaining = _wait_exited(remaining, KILL_WAIT)
    if remaining:
        raise LabError(f"node processes {remaining} survived SIGKILL; look at them with 'ps -p', "
                       "then run down again")
    for node_dir in node_dirs:
        (node_dir / SUPERVISOR_PID_FILE).unlink(missing_ok=True)


def exec_argv(init_pid: int, argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` inside the node whose pid 1 is ``init_pid`` (host pid)."""
    return [tool_path("nsenter"), f"--target={init_pid}", "--all", "--root", "--wd", "--", *argv]


def _signal_node(supervisor: int, signum: int) -> None:
    """Signal the node's pid 1, whose exit ends its whole pid namespace; or the supervisor if it has no child yet."""
    target = node_init_pid(supervisor) or supervisor
    try:
        os.kill(target, signum)
    except ProcessLookupError:
        pass


def _wait_exited(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes have exited (reaping those this process started); return the ones left."""
    deadline = time.monotonic() + timeout
    starts = {pid: _start_time(pid) for pid in pids}
    while True:
        left = []
        for pid in pids:
            if pid in _started and _started[pid].poll() is not None:
                del _started[pid]  # reaped; those another process started are reaped by init
            if starts[pid] is not None and _start_time(pid) == starts[pid]:
                left.append(pid)
        if not left or time.monotonic() > deadline:
            return left
        pids = left
        time.sleep(0.02)


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone (zombies count as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_line[stat_line.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])
