"""Starting and stopping one ZooKeeper server on its node.

Where systemd runs the node, the server is ``zookeeper.service``; elsewhere
zkServer.sh starts it as the service account and keeps its pid in
``<dataDir>/zookeeper_server.pid``. The shell is remote/zk_server.sh; this
module names its arguments.
"""

from __future__ import annotations

from ..core.facts import query
from ..core.session import HostContext
from ..inventory import Inventory, ZooKeeperSpec
from ..render.zk_service import UNIT, zookeeper_home

# Said in plan, zk status and a run's summary wherever nothing supervises the server.
NOT_SUPERVISED = "not supervised: started by zkServer.sh as {user}; nothing restarts it after a crash or a reboot"

SCRIPT = "zk_server.sh"

DEFAULT_JAVA_HOME = "/usr/java/default"
STOP_GRACE_SECONDS = 30  # SIGTERM first, as zkServer.sh stop does; SIGKILL only after this


def home(spec: ZooKeeperSpec) -> str:
    """ZOOKEEPER_HOME: the stable link to the installed release."""
    return zookeeper_home(spec)


def pid_file(spec: ZooKeeperSpec) -> str:
    return f"{spec.data_dir}/zookeeper_server.pid"


def java_home(inventory: Inventory) -> str:
    """JAVA_HOME for the servers: the JDK step's, else the vendor layout's default link."""
    return inventory.jdk.java_home if inventory.jdk else DEFAULT_JAVA_HOME


def supervised(ctx: HostContext) -> bool:
    """Whether systemd runs ``ctx``'s host (asked once per run, with the other facts when they were)."""
    facts = ctx.session.gather(ctx.step, [ctx.host.name], lambda h: [query("zk.init", "init_system")])
    return facts[ctx.host.name]["zk.init"].output.startswith("systemd")


def control(ctx: HostContext, action: str, spec: ZooKeeperSpec, java: str) -> tuple[str, int | None]:
    """Start, stop or restart the server on ``ctx``'s host; ('running'|'started'|'stopped'|'not running', pid).

    Through systemctl where systemd runs the host, else with zkServer.sh as the service account.
    """
    manager = "systemd" if supervised(ctx) else "zkserver"
    start = (home(spec), java, pid_file(spec), spec.user, spec.conf_dir, spec.log_dir)
    args = {"start": start,
            "stop": (pid_file(spec), STOP_GRACE_SECONDS),
            "restart": (*start, STOP_GRACE_SECONDS)}[action]
    result = ctx.run_script(SCRIPT, action, manager, UNIT, *args, become=True)
    ctx.session.forget_facts(ctx.host.name, "zk.server")
    state, pid = parse_control_output(result.stdout)
    if manager == "zkserver" and state in ("started", "running"):
        say_unsupervised(ctx, spec)
    return state, pid


def say_unsupervised(ctx: HostContext, spec: ZooKeeperSpec) -> None:
    """Tell the run (and so its summary) that nothing supervises the server on ``ctx``'s host."""
    ctx.session.reporter.caveat(ctx.host.name, ctx.step, NOT_SUPERVISED.format(user=spec.user))


def parse_control_output(output: str) -> tuple[str, int | None]:
    """('running'|'started'|'stopped'|'not running', pid) from a start or stop script's last line."""
    last = (output.strip().splitlines() or [""])[-1].split()
    if len(last) == 2 and last[1].isdigit():
        return last[0], int(last[1])
    return " ".join(last), None
