"""When booting lab nodes are up: their init has finished starting them and their sshd answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .node_process import CONSOLE_LOG, NODE_ENV, NodeInit, exec_argv, node_init_pid, supervisor_pid

BOOT_TIMEOUT = 60.0  # seconds for every node to be up; a 16-node systemd lab on 2 cores needs about ten
_POLL = 0.02


@dataclass(frozen=True)
class BootingNode:
    name: str
    node_dir: Path
    address: str
    init: NodeInit


def wait_until_up(nodes: list[BootingNode], timeout: float = BOOT_TIMEOUT) -> None:
    """Return when every node is up; raise LabError if one dies, boots degraded, or ``timeout`` passes.

    Up means: with systemd, startup has finished and the system is
    'running' (no unit failed); with either init, sshd sends its banner.
    """
    deadline = time.monotonic() + timeout
    watches = [_BootWatch(node) for node in nodes]
    try:
        while watches:
            watches = [watch for watch in watches if not watch.is_up()]
            if watches and time.monotonic() > deadline:
                waiting = ", ".join(f"{watch.node.name} ({watch.waiting_for})" for watch in watches)
                raise LabError(f"not up within {timeout:.0f}s: {waiting}; "
                               f"see {watches[0].node.node_dir / CONSOLE_LOG}")
            if watches:
                time.sleep(_POLL)
    finally:
        for watch in watches:
            watch.abandon()


def sshd_answers(address: str, port: int = 22) -> bool:
    """Whether an SSH server at ``address`` sends its banner within a fraction of a second."""
    try:
        with socket.create_connection((address, port), timeout=0.5) as connection:
            return connection.recv(4) == b"SSH-"
    except OSError:
        return False


def console_tail(node_dir: Path, lines: int = 3) -> str:
    """The last lines the node's boot wrote to its console, on one line."""
    try:
        text = (node_dir / CONSOLE_LOG).read_text(errors="replace").splitlines()
    except OSError:
        text = []
    return " | ".join(text[-lines:]) or "no output"


class _BootWatch:
    """One booting node, looked at again on each poll until it is up."""

    def __init__(self, node: BootingNode):
        self.node = node
        self.init_finished = node.init is NodeInit.NONE
        # systemd's own answer to 'is startup over?', asked inside the node while it boots.
        self._startup: subprocess.Popen | None = None

    @property
    def waiting_for(self) -> str:
        return "sshd" if self.init_finished else "systemd to finish starting"

    def is_up(self) -> bool:
        supervisor = supervisor_pid(self.node.node_dir)
        if supervisor is None:
            raise LabError(f"{self.node.name} failed to boot: {console_tail(self.node.node_dir)}")
        if not self.init_finished:
            self.init_finished = self._systemd_finished(supervisor)
        return self.init_finished and sshd_answers(self.node.address)

    def abandon(self) -> None:
        if self._startup is not None and self._startup.poll() is None:
            os.killpg(self._startup.pid, signal.SIGKILL)
            self._startup.wait()

    def _systemd_finished(self, supervisor: int) -> bool:
        """Whether systemd reports startup over and the system running; LabError if it ended otherwise."""
        init = node_init_pid(supervisor)
        if init is None:
            return False
        if self._startup is None:
            # Before its exec, pid 1 is still the boot script; systemd answers once its socket is there.
            if _comm(init) != "systemd" or not Path(f"/proc/{init}/root/run/systemd/private").exists():
                return False
            self._startup = _run_in_node(init, ["systemctl", "is-system-running", "--wait"])
        if self._startup.poll() is None:
            return False
        state = self._startup.communicate()[0].decode(errors="replace").strip()
        self._startup = None
        if state == "running":
            return True
        if state in ("", "offline"):
            return False  # it could not reach systemd: the socket can be there a moment before systemd listens
        failed = _run_in_node(init, ["systemctl", "--failed", "--plain", "--no-legend"]).communicate()[0]
        units = ", ".join(line.split()[0] for line in failed.decode(errors="replace").splitlines() if line.strip())
        raise LabError(f"{self.node.name} booted but systemd reports {state}"
                       + (f" (failed: {units})" if units else "")
                       + f": look with 'clusterctl lab exec {self.node.name} -- systemctl --failed'")


def _run_in_node(init_pid: int, argv: list[str]) -> subprocess.Popen:
    """Start ``argv`` inside the node, its stdout piped back, in a session of its own (to kill it whole)."""
    return subprocess.Popen(exec_argv(init_pid, argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=NODE_ENV, start_new_session=True)


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
