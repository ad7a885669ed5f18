"""A lab: real Linux hosts node1..nodeN on this machine, built from kernel namespaces.

Each node has its own network namespace on a private bridge, its own mount
namespace over a copy-on-write view of this machine's root, its own hostname and
pid namespace, and a real sshd that lets root in with the lab key or the lab
password. Everything the lab creates is named from its name and subnet
(see :mod:`.topology`) and recorded under its state directory, so any later
process can use it or take it down.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .bare_host import NodeIdentity, find_bare_host_changes, write_node_layer
from .errors import LabError
from .host_tools import run_tool
from .inventory import render_lab_inventory
from .network import create_bridge, create_node_network, remove_network
from .node_disk import check_disk_size, mount_node_disk, mounts_below, unmount_below
from .node_process import (CONSOLE_LOG, NODE_ENV, NODE_INIT_FILE, exec_argv, node_init_pid,
                           start_node_process, stop_node_processes, supervisor_pid, write_node_init)
from .preconditions import check_host, check_links_free, check_root, check_subnet_free
from .state import LabRecord, read_record, write_record
from .topology import DEFAULT_STATE_ROOT, LabTopology, check_lab_name, parse_subnet

DEFAULT_NAME = "demo"
DEFAULT_SUBNET = "10.231.0.0/24"
BOOT_TIMEOUT = 30.0  # seconds for every node's sshd to answer; a healthy 16-node lab needs about one


@dataclass(frozen=True)
class NodeStatus:
    name: str
    address: str
    pid: int | None  # host pid of the node's supervisor process (parent of its pid 1), None if stopped
    sshd_up: bool


class Lab:
    """One lab, named ``name``, on ``subnet``, with its state under ``state_root``/``name``."""

    def __init__(self, name: str = DEFAULT_NAME, subnet: str = DEFAULT_SUBNET,
                 state_root: Path | str = DEFAULT_STATE_ROOT):
        # Resolved, because mount points are matched against it as the kernel spells them.
        self.topology = LabTopology(check_lab_name(name), parse_subnet(subnet), Path(state_root).resolve())

    @classmethod
    def load(cls, name: str = DEFAULT_NAME, state_root: Path | str = DEFAULT_STATE_ROOT) -> Lab:
        """Re-open the lab brought up earlier (by any process) under ``state_root``."""
        record = read_record(Path(state_root) / check_lab_name(name))
        if record is None:
            raise LabError(f"no lab '{name}' is up under {state_root}: bring one up with "
                           f"'clusterctl lab up --name {name}'")
        return cls(name, record.subnet, state_root)

    # What the lab is.

    @property
    def name(self) -> str:
        return self.topology.name

    @property
    def subnet(self) -> str:
        return str(self.topology.subnet)

    @property
    def state_dir(self) -> Path:
        return self.topology.state_dir

    @property
    def key_path(self) -> Path:
        """The lab's private key (ed25519); root on every node accepts it unless up(authorize_lab_key=False)."""
        return self.state_dir / "id_ed25519"

    @property
    def password_path(self) -> Path:
        return self.state_dir / "password"

    @property
    def password(self) -> str:
        """Root's password on every node."""
        return self.password_path.read_text().strip()

    @property
    def known_hosts_path(self) -> Path:
        """A known_hosts file, empty at up, for the controller to pin the nodes' host keys in."""
        return self.state_dir / "known_hosts"

    @property
    def inventory_path(self) -> Path:
        return self.state_dir / "inventory.toml"

    @property
    def nodes(self) -> list[str]:
        """The lab's node names (node1, node2, ...); empty if it is not up."""
        record = read_record(self.state_dir)
        return list(record.nodes) if record else []

    def address(self, node: str) -> str:
        self._check_node(node)
        return str(self.topology.address(node))

    # Bringing it up and down.

    def up(self, nodes: int = 4, authorize_lab_key: bool = True, tmpfs_size: str = "6g",
           inventory_extra: str = "") -> Path:
        """Build and boot the lab; return the path of the inventory it wrote (state dir/inventory.toml).

        Returns once every node's sshd answers. A lab of this name that is
        already up (or half-built) is an error: take it down first. If
        anything fails, what was built so far is taken down again.
        """
        check_host()
        names = self.topology.node_names(nodes)
        check_disk_size(tmpfs_size)
        self._check_absent()
        check_subnet_free(self.topology)
        check_links_free(self.topology)
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.state_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise LabError(f"lab '{self.name}' is being brought up by another process") from None
        try:
            write_record(self.state_dir, LabRecord(self.name, self.subnet, tuple(names), tmpfs_size,
                                                   authorize_lab_key))
            self._build(names, authorize_lab_key, tmpfs_size)
            self.inventory_path.write_text(render_lab_inventory(
                self.name, {node: self.address(node) for node in names}, self.key_path,
                self.known_hosts_path, self.password_path, authorize_lab_key, inventory_extra))
        except BaseException:
            self.down()
            raise
        return self.inventory_path

    def down(self) -> None:
        """Stop every node and remove all the lab made: processes, mounts, namespaces, links, state.

        Safe to call on a lab that is already down, half-built, or has crashed nodes.
        """
        check_root()
        state_dir = self.state_dir
        node_dirs = sorted(p for p in state_dir.glob("node*") if p.is_dir()) if state_dir.is_dir() else []
        stop_node_processes(node_dirs)
        unmount_below(state_dir)
        remove_network(self.topology)
        if mounts_below(state_dir):
            raise LabError(f"{state_dir} still has mounts after unmounting; see 'findmnt -R {state_dir}'")
        if state_dir.exists():
            shutil.rmtree(state_dir)

    # Using it.

    def status(self) -> list[NodeStatus]:
        """Each node's address, supervisor pid (None if stopped) and whether its sshd answers."""
        result = []
        for node in self.nodes:
            pid = supervisor_pid(self.topology.node_dir(node))
            address = str(self.topology.address(node))
            result.append(NodeStatus(node, address, pid, pid is not None and _sshd_answers(address)))
        return result

    def exec(self, node: str, argv: list[str], input: bytes | None = None, check: bool = False,
             timeout: float | None = None, capture_output: bool = True) -> subprocess.CompletedProcess:
        """Run ``argv`` as root inside ``node`` (all its namespaces, its root, cwd /) and return the result.

        The environment is a plain root login's, not the caller's. Output is
        captured as bytes and stdin is ``input`` (or empty); on timeout the
        command and what it started in the same process group are killed, then
        TimeoutExpired is raised. With ``capture_output=False`` the command
        uses this process's terminal instead (for interactive use).
        """
        check_root()
        command = exec_argv(self._running_init_pid(node), argv)
        env = dict(NODE_ENV, TERM=os.environ.get("TERM", "dumb"))
        if not capture_output:
            return subprocess.run(command, input=input, check=check, timeout=timeout, env=env)
        # A session of its own, so a timeout can kill the command inside the node, not only nsenter.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        result = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
        if check:
            result.check_returncode()
        return result

    def stop_node(self, node: str, crash: bool = False) -> None:
        """Shut ``node`` down: its processes end, its disk stays. No-op if it is stopped.

        Its processes get SIGTERM (SIGKILL after a few seconds), or with
        ``crash`` SIGKILL at once, like a power cut.
        """
        check_root()
        self._check_node(node)
        stop_node_processes([self.topology.node_dir(node)], graceful=not crash)

    def start_node(self, node: str) -> None:
        """Boot a stopped node again on the disk it had; return when its sshd answers. No-op if running."""
        check_root()
        self._check_node(node)
        node_dir = self.topology.node_dir(node)
        if supervisor_pid(node_dir) is not None:
            return
        if node_dir / "fs" not in mounts_below(node_dir):
            raise LabError(f"the disk of {node} is gone (was this machine restarted?): "
                           f"run 'clusterctl lab down --name {self.name}' and up again")
        start_node_process(self.state_dir / NODE_INIT_FILE, self.topology.netns(node), node_dir, node)
        self._wait_for_sshd([node])

    # The parts of up.

    def _build(self, names: list[str], authorize_lab_key: bool, disk_size: str) -> None:
        run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"clusterctl-lab-{self.name}",
                  "-f", str(self.key_path)])
        _write_private(self.password_path, secrets.token_urlsafe(18) + "\n")
        _write_private(self.known_hosts_path, "")
        init_script = write_node_init(self.state_dir)
        public_key = self.key_path.with_suffix(".pub").read_text() if authorize_lab_key else None
        # The state root is on this machine's root filesystem, which the nodes see: hide it (lab key, password).
        changes = find_bare_host_changes(also_hide=(self.topology.state_root,))
        create_bridge(self.topology)
        for node in names:
            create_node_network(self.topology, node)
            node_dir = self.topology.node_dir(node)
            disk = mount_node_disk(node_dir, disk_size, label=f"clusterctl-lab-{self.name}-{node}")
            address = str(self.topology.address(node))
            write_node_layer(disk / "upper", changes, NodeIdentity(node, address, public_key))
        for node in names:
            start_node_process(init_script, self.topology.netns(node), self.topology.node_dir(node), node,
                               password_file=self.password_path)
        self._wait_for_sshd(names)

    def _wait_for_sshd(self, names: list[str]) -> None:
        """Return when every node's sshd answers; raise LabError if a node dies or BOOT_TIMEOUT passes."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        waiting = list(names)
        while waiting:
            for node in list(waiting):
                if supervisor_pid(self.topology.node_dir(node)) is None:
                    raise LabError(f"{node} failed to boot: {self._console_tail(node)}")
                if _sshd_answers(str(self.topology.address(node))):
                    waiting.remove(node)
            if waiting and time.monotonic() > deadline:
                raise LabError(f"sshd did not answer on {', '.join(waiting)} within {BOOT_TIMEOUT:.0f}s; "
                               f"see {self.topology.node_dir(waiting[0]) / CONSOLE_LOG}")
            if waiting:
                time.sleep(0.02)

    # Checks.

    def _check_absent(self) -> None:
        record = read_record(self.state_dir)
        if record is not None:
            raise LabError(f"lab '{self.name}' is already up ({len(record.nodes)} nodes on {record.subnet}): "
                           f"use it, or take it down first with 'clusterctl lab down --name {self.name}'")
        if self.state_dir.exists():
            raise LabError(f"lab '{self.name}' has leftover state in {self.state_dir}: "
                           f"run 'clusterctl lab down --name {self.name}' first")

    def _check_node(self, node: str) -> None:
        nodes = self.nodes
        if node not in nodes:
            known = ", ".join(nodes) if nodes else "none: the lab is not up"
            raise LabError(f"lab '{self.name}' has no node {node!r} (nodes: {known})")

    def _running_init_pid(self, node: str) -> int:
        self._check_node(node)
        supervisor = supervisor_pid(self.topology.node_dir(node))
        init_pid = node_init_pid(supervisor) if supervisor else None
        if init_pid is None:
            raise LabError(f"{node} is not running: start it with 'clusterctl lab start {node}'")
        return init_pid

    def _console_tail(self, node: str) -> str:
        try:
            lines = (self.topology.node_dir(node) / CONSOLE_LOG).read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        return " | ".join(lines[-3:]) or "no output"


def _sshd_answers(address: str, port: int = 22) -> bool:
    """Whether an SSH server at ``address`` sends its banner within a fraction of a second."""
    try:
        with socket.create_connection((address, port), timeout=0.5) as connection:
            return connection.recv(4) == b"SSH-"
    except OSError:
        return False


def _write_private(path: Path, text: str) -> None:
    """Write a file only root can read, without a moment where it is readable by others."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
