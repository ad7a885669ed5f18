"""A lab node as processes on this machine: booting it, finding its pid 1, running commands in it, stopping it.

A node is one process tree: ``ip netns exec NS unshare --mount --uts --pid
--fork`` (the supervisor, whose pid is recorded) and its child, the node's pid
1. The supervisor is the only process the lab starts itself; everything else is
found from its recorded pid, which is checked against the process start time
so a reused pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

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

NODE_INIT_FILE = "node-init.sh"
NODE_INIT_SCRIPT = r"""#!/bin/bash
# Written by clusterctl lab. The first pid 1 of a lab node, run by bash in new
# mount, UTS and pid namespaces inside the node's network namespace.
# Arguments: the node's disk directory (upper/, work/, merged/), its hostname
# and, on first boot only, a file holding the root password to set.
set -eu
disk=$1 hostname=$2 password_file=${3:-}
root=$disk/merged
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$disk/upper,workdir=$disk/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
# Its own shared memory and ptys rather than the machine's; /run and /tmp start empty at each boot.
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=0755 run "$root/run"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$root/tmp"
hostname "$hostname"
if [ -n "$password_file" ]; then
    printf 'root:%s\n' "$(cat "$password_file")" | chroot "$root" /usr/sbin/chpasswd
fi
mkdir -m 0755 "$root/run/sshd"
mkdir -m 1777 "$root/run/lock"
cat > "$root/run/clusterctl-lab-init" <<'INIT'
# The node's init: runs sshd, adopts and reaps orphaned daemons, stops everything on SIGTERM.
stop() {
    kill -TERM -1 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        kill -0 -1 2>/dev/null || exit 0
        sleep 0.1
    done
    exit 0
}
trap stop TERM INT
/usr/sbin/sshd -D -e &
# 'wait' returns when its jobs end; a sleeping job keeps it blocked (no busy loop) once sshd is gone.
while :; do
    wait
    sleep infinity &
done
INIT
# Leave only the node's own mounts in its view: the machine's tree is detached.
cd "$root"
pivot_root . .
umount -l .
cd /
exec /bin/bash /run/clusterctl-lab-init
"""


def write_node_init(state_dir: Path) -> Path:
    """Write the node init script into the lab's state directory and return its path."""
    path = state_dir / NODE_INIT_FILE
    path.write_text(NODE_INIT_SCRIPT)
    return path


def start_node_process(init_script: Path, netns: str, node_dir: Path, hostname: str,
                       password_file: Path | None = None) -> int:
    """Boot the node whose disk is mounted at ``node_dir``/fs; record and return the supervisor's pid.

    Returns as soon as the processes are started; the node's pid 1 mounts its
    root and starts sshd on its own.
    """
    disk = node_dir / "fs"
    argv = [tool_path("ip"), "netns", "exec", netns,
            tool_path("unshare"), "--mount", "--uts", "--pid", "--fork", "--kill-child",
            "/bin/bash", str(init_script), str(disk), hostname]
    if password_file is not None:
        argv.append(str(password_file))
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


def stop_node_processes(node_dirs: list[Path], graceful: bool = True, grace: float = 5.0) -> None:
    """Stop the nodes in ``node_dirs`` together and return once every one is gone; stopped nodes are skipped.

    Graceful: SIGTERM to each pid 1, which passes it on to every process of
    its node, and SIGKILL after ``grace`` seconds. Otherwise SIGKILL at once,
    like pulling the plug.
    """
    supervisors = [pid for pid in map(supervisor_pid, node_dirs) if pid is not None]
    remaining = supervisors
    if graceful:
        for supervisor in supervisors:
            _signal_node(supervisor, signal.SIGTERM)
        remaining = _wait_exited(supervisors, grace)
    for supervisor in remaining:
        _signal_node(supervisor, signal.SIGKILL)
    remaining = _wait_exited(remaining, grace)
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
