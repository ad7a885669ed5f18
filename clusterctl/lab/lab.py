"""A lab: real Linux hosts node1..nodeN on this machine, built from kernel namespaces.

Each node has its own network namespace on a private bridge, its own mount
namespace over a copy-on-write view of this machine's root, its own hostname,
pid namespace and cgroup tree, an init (systemd by default) and a real sshd
that lets root in with the lab key or the lab password. A lab may also have a
login user (then root logs in over SSH on no node) and a bastion, a machine
booted like the nodes, through which alone the nodes accept SSH from the
controller. Everything the lab creates is named from its name and subnet (see
:mod:`.topology`) and recorded under its state directory, so any later process
can use it or take it down.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .bare_host import NodeIdentity, find_bare_host_changes, write_node_layer
from .errors import LabError
from .host_tools import run_tool
from .inventory import render_lab_inventory
from .lab_user import LabUser, check_user_is_new
from .network import create_bastion_bridge, create_bridge, create_node_network, remove_network
from .node_boot import BootingNode, sshd_answers, wait_until_up
from .node_cgroup import create_node_cgroup, remove_cgroup_tree, remove_if_empty
from .node_disk import DEFAULT_DISK_SIZE, check_disk_size, mount_node_disk, mounts_below, unmount_below
from .node_files import render_sshd_config, render_sudoers
from .node_process import (DEFAULT_INIT, NODE_ENV, FirstBoot, NodeInit, check_init, exec_argv, node_init_pid,
                           start_node_process, stop_node_processes, supervisor_pid)
from .preconditions import check_host, check_links_free, check_root, check_subnet_free
from .state import LabRecord, read_record, shape_differences, write_record
from .topology import (BASTION, CGROUP_PARENT, DEFAULT_NAME, DEFAULT_STATE_ROOT, DEFAULT_SUBNET,
                       LabTopology, check_lab_name, parse_subnet)


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
        """The lab's private key (ed25519); root and the login user on every machine accept it, unless
        up(authorize_lab_key=False)."""
        return self.state_dir / "id_ed25519"

    @property
    def password_path(self) -> Path:
        return self.state_dir / "password"

    @property
    def password(self) -> str:
        """Root's password on every machine."""
        return self.password_path.read_text().strip()

    @property
    def user(self) -> LabUser | None:
        """The login user every machine has (recorded at up), or None if the lab logs in as root."""
        return self._record().user

    @property
    def user_password_path(self) -> Path:
        return self.state_dir / "user-password"

    @property
    def user_password(self) -> str:
        """The login user's password on every machine (also what sudo asks it for)."""
        return self.user_password_path.read_text().strip()

    @property
    def known_hosts_path(self) -> Path:
        """A known_hosts file, empty at up, for the controller to pin the nodes' host keys in."""
        return self.state_dir / "known_hosts"

    @property
    def inventory_path(self) -> Path:
        return self.state_dir / "inventory.toml"

    @property
    def nodes(self) -> list[str]:
        """The lab's node names (node1, node2, ...), its inventory's hosts; empty if it is not up."""
        record = read_record(self.state_dir)
        return list(record.nodes) if record else []

    @property
    def bastion(self) -> str | None:
        """The bastion's name ("bastion") if the lab has one, else None."""
        record = read_record(self.state_dir)
        return BASTION if record and record.bastion else None

    @property
    def machines(self) -> list[str]:
        """Every machine the lab boots: its nodes, then its bastion if it has one."""
        return self.nodes + ([BASTION] if self.bastion else [])

    def address(self, machine: str) -> str:
        """The address of a node (or the bastion) on the lab bridge."""
        self._check_node(machine)
        return str(self.topology.address(machine))

    @property
    def bastion_address(self) -> str:
        """The bastion's address on its own network, where the controller reaches it (the inventory's jump)."""
        if self.bastion is None:
            raise LabError(f"lab '{self.name}' has no bastion: bring it up with 'clusterctl lab up --bastion'")
        return str(self.topology.bastion_address)

    # Bringing it up and down.

    def up(self, nodes: int = 4, authorize_lab_key: bool = True, disk_size: str = DEFAULT_DISK_SIZE,
           disk_sizes: Mapping[str, str] | None = None, init: str = DEFAULT_INIT,
           inventory_extra: str = "", user: LabUser | None = None, bastion: bool = False) -> Path:
        """Build and boot the lab; return the path of the inventory it wrote (state dir/inventory.toml).

        Every node's disk holds ``disk_size`` unless ``disk_sizes`` (node ->
        size) says otherwise; every machine boots ``init`` (systemd or none).
        With ``user``, every machine has that login user, with its own
        password and the lab key, and the sudo rights it asks for; root then
        logs in over SSH on no node. With ``bastion``, a machine named bastion
        sits between the controller and the nodes, which refuse SSH from the
        controller's own address (see :attr:`bastion_address`).
        Returns once every machine is up (see :func:`.node_boot.wait_until_up`).
        If the lab is already up with this very shape (nodes, subnet, init,
        disk sizes, lab key, user, bastion), it is used as it is: stopped
        machines are booted and the inventory is written again. Another shape,
        or a half-built lab, is an error: take it down first. If building
        fails, what was built so far is taken down again.
        """
        init = check_init(init)
        check_host(init, login_user=user is not None)
        names = self.topology.node_names(nodes)
        wanted = LabRecord(self.name, self.subnet, tuple(names), check_disk_size(disk_size), authorize_lab_key,
                           init.value, self._check_disk_sizes(disk_sizes or {}, names), user, bastion)
        existing = read_record(self.state_dir)
        if existing is not None:
            return self._converge(existing, wanted, inventory_extra)
        self._check_no_leftovers()
        if user is not None:
            check_user_is_new(user)
        check_subnet_free(self.topology, bastion)
        check_links_free(self.topology, bastion)
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.state_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise LabError(f"lab '{self.name}' is being brought up by another process") from None
        try:
            write_record(self.state_dir, wanted)
            self._build(wanted)
            self._write_inventory(wanted, inventory_extra)
        except BaseException:
            self.down()
            raise
        return self.inventory_path

    def down(self) -> None:
        """Stop every node and remove all the lab made: processes, mounts, cgroups, namespaces, links, state.

        Safe to call on a lab that is already down, half-built, or has crashed nodes.
        """
        check_root()
        state_dir = self.state_dir
        # Every machine's directory (disk, pid file), found on disk, so a half-built lab's are too.
        machine_dirs = sorted(p for p in state_dir.iterdir() if p.is_dir()) if state_dir.is_dir() else []
        # Power off: the disks go next, so a clean shutdown would save nothing.
        stop_node_processes(machine_dirs)
        unmount_below(state_dir)
        remove_cgroup_tree(self.topology.cgroup)
        remove_if_empty(CGROUP_PARENT)
        remove_network(self.topology)
        if mounts_below(state_dir):
            raise LabError(f"{state_dir} still has mounts after unmounting; see 'findmnt -R {state_dir}'")
        if state_dir.exists():
            shutil.rmtree(state_dir)

    # Using it.

    def status(self) -> list[NodeStatus]:
        """Each machine's address, supervisor pid (None if stopped) and whether its sshd answers.

        The bastion's address is the one the controller reaches it at, on its own network.
        """
        result = []
        for machine in self.machines:
            pid = supervisor_pid(self.topology.node_dir(machine))
            address = self._controller_facing_address(machine)
            result.append(NodeStatus(machine, address, pid, pid is not None and sshd_answers(address)))
        return result

    @property
    def init(self) -> NodeInit:
        """How the lab's nodes boot (recorded at up)."""
        return NodeInit(self._record().init)

    def disk_size(self, node: str) -> str:
        """The size of ``node``'s disk (recorded at up)."""
        self._check_node(node)
        return self._record().disk_size_of(node)

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

        A clean shutdown as its init does one (systemd powers off: units
        stop, then what is left gets SIGTERM), SIGKILL after a bound; or with
        ``crash`` SIGKILL at once, like a power cut.
        """
        self.stop_nodes([node], crash=crash)

    def stop_nodes(self, nodes: Iterable[str], crash: bool = False) -> None:
        """Shut ``nodes`` down together, as :meth:`stop_node` does one."""
        check_root()
        record = self._record()
        nodes = self._check_nodes(nodes)
        stop_node_processes([self.topology.node_dir(node) for node in nodes],
                            shutdown=None if crash else NodeInit(record.init))
        for node in nodes:
            remove_cgroup_tree(self.topology.node_cgroup(node))

    def start_node(self, node: str) -> None:
        """Boot a stopped node again on the disk it had; return when it is up. No-op if running."""
        self.start_nodes([node])

    def start_nodes(self, nodes: Iterable[str]) -> None:
        """Boot the stopped ones of ``nodes`` together, as :meth:`start_node` does one."""
        check_root()
        record = self._record()
        stopped = [node for node in self._check_nodes(nodes)
                   if supervisor_pid(self.topology.node_dir(node)) is None]
        for node in stopped:
            if self.topology.node_dir(node) / "fs" not in mounts_below(self.topology.node_dir(node)):
                raise LabError(f"the disk of {node} is gone (was this machine restarted?): "
                               f"run 'clusterctl lab down --name {self.name}' and up again")
        self._boot(stopped, NodeInit(record.init))

    def reboot(self, nodes: Iterable[str], crash: bool = False) -> None:
        """Power-cycle ``nodes`` together: shut down (cleanly, or with ``crash`` at once), boot; return when up.

        Every process of a node ends, its disk stays, and it boots again
        through its init, as after a reboot (or a power cut) of a real host.
        A stopped node is just booted.
        """
        nodes = self._check_nodes(nodes)
        self.stop_nodes(nodes, crash=crash)
        self.start_nodes(nodes)

    # The parts of up.

    def _build(self, record: LabRecord) -> None:
        run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"clusterctl-lab-{self.name}",
                  "-f", str(self.key_path)])
        _write_private(self.password_path, secrets.token_urlsafe(18) + "\n")
        if record.user is not None:
            _write_private(self.user_password_path, secrets.token_urlsafe(18) + "\n")
        _write_private(self.known_hosts_path, "")
        public_key_file = self.key_path.with_suffix(".pub") if record.lab_key_authorized else None
        # The state root is on this machine's root filesystem, which the nodes see: hide it (lab key, password).
        changes = find_bare_host_changes(also_hide=(self.topology.state_root,))
        create_bridge(self.topology)
        if record.bastion:
            create_bastion_bridge(self.topology)
        machines = self.machines
        for machine in machines:
            create_node_network(self.topology, machine)
            disk = mount_node_disk(self.topology.node_dir(machine), record.disk_size_of(machine),
                                   label=f"clusterctl-lab-{self.name}-{machine}")
            write_node_layer(disk / "upper", changes, self._identity(record, machine, public_key_file))
        user = record.user
        first_boot = FirstBoot(self.password_path, user.name if user else None,
                               self.user_password_path if user else None, public_key_file)
        self._boot(machines, NodeInit(record.init), first_boot)

    def _identity(self, record: LabRecord, machine: str, public_key_file: Path | None) -> NodeIdentity:
        """Who ``machine`` is and who may log in to it: root unless the lab has a login user, except on the
        bastion; on the nodes behind a bastion, nobody from the controller's address."""
        if machine == BASTION:
            sshd_config = render_sshd_config(root_login=True, tcp_forwarding=True)
        else:
            refused = str(self.topology.gateway.ip) if record.bastion else None
            sshd_config = render_sshd_config(root_login=record.user is None, refused_client=refused)
        return NodeIdentity(machine, str(self.topology.address(machine)),
                            public_key_file.read_text() if public_key_file else None, sshd_config,
                            render_sudoers(record.user) if record.user else None)

    def _boot(self, machines: list[str], init: NodeInit, first_boot: FirstBoot | None = None) -> None:
        """Start ``machines`` (each in a fresh cgroup) and return when every one is up."""
        for machine in machines:
            # A machine that powered itself off (say 'systemctl poweroff' inside) left its cgroups behind.
            remove_cgroup_tree(self.topology.node_cgroup(machine))
            cgroup = create_node_cgroup(self.topology.node_cgroup(machine))
            start_node_process(self.topology.netns(machine), self.topology.node_dir(machine), machine, init,
                               cgroup, first_boot=first_boot)
        wait_until_up([BootingNode(machine, self.topology.node_dir(machine),
                                   self._controller_facing_address(machine), init) for machine in machines])

    def _controller_facing_address(self, machine: str) -> str:
        """Where the controller reaches ``machine``: the bastion on its own network, a node on the lab bridge."""
        return str(self.topology.bastion_address if machine == BASTION else self.topology.address(machine))

    def _converge(self, existing: LabRecord, wanted: LabRecord, inventory_extra: str) -> Path:
        """Use the lab that is up if it has the wanted shape: boot its stopped machines, write its inventory."""
        differences = shape_differences(existing, wanted)
        if differences:
            raise LabError(f"lab '{self.name}' is already up with another shape ({'; '.join(differences)}): "
                           f"take it down first with 'clusterctl lab down --name {self.name}'")
        self.start_nodes(self.machines)
        self._write_inventory(existing, inventory_extra)
        return self.inventory_path

    def _write_inventory(self, record: LabRecord, inventory_extra: str) -> None:
        user = record.user
        jump = f"{user.name if user else 'root'}@{self.topology.bastion_address}" if record.bastion else None
        self.inventory_path.write_text(render_lab_inventory(
            self.name, {node: self.address(node) for node in record.nodes}, self.key_path,
            self.known_hosts_path, self.password_path, record.lab_key_authorized, inventory_extra,
            user=user, user_password_file=self.user_password_path if user else None, jump=jump))

    # Checks.

    def _check_no_leftovers(self) -> None:
        if self.state_dir.exists():
            raise LabError(f"lab '{self.name}' has leftover state in {self.state_dir}: "
                           f"run 'clusterctl lab down --name {self.name}' first")

    @staticmethod
    def _check_disk_sizes(disk_sizes: Mapping[str, str], names: list[str]) -> dict[str, str]:
        unknown = sorted(set(disk_sizes) - set(names))
        if unknown:
            raise LabError(f"a disk size is given for {', '.join(unknown)}, which the lab will not have "
                           f"(nodes: {names[0]}..{names[-1]})")
        return {node: check_disk_size(disk_sizes[node]) for node in names if node in disk_sizes}

    def _record(self) -> LabRecord:
        record = read_record(self.state_dir)
        if record is None:
            raise LabError(f"lab '{self.name}' is not up: bring it up with 'clusterctl lab up --name {self.name}'")
        return record

    def _check_nodes(self, nodes: Iterable[str]) -> list[str]:
        nodes = list(dict.fromkeys(nodes))
        for node in nodes:
            self._check_node(node)
        return nodes

    def _check_node(self, machine: str) -> None:
        machines = self.machines
        if machine not in machines:
            known = ", ".join(machines) if machines else "none: the lab is not up"
            raise LabError(f"lab '{self.name}' has no node {machine!r} (nodes: {known})")

    def _running_init_pid(self, node: str) -> int:
        self._check_node(node)
        supervisor = supervisor_pid(self.topology.node_dir(node))
        init_pid = node_init_pid(supervisor) if supervisor else None
        if init_pid is None:
            raise LabError(f"{node} is not running: start it with 'clusterctl lab start {node}'")
        return init_pid


def _write_private(path: Path, text: str) -> None:
    """Write a file only root can read, without a moment where it is readable by others."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
