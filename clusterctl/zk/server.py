"""Starting and stopping one ZooKeeper server on its node, the way zkServer.sh does it.

zkServer.sh keeps the server's pid in ``<dataDir>/zookeeper_server.pid``; that
file is how clusterctl tells a running server too. The shell is
remote/zk_server.sh; this module names its arguments.
"""

from __future__ import annotations

from ..core.session import HostContext
from ..inventory import Inventory, ZooKeeperSpec

DEFAULT_JAVA_HOME = "/usr/java/default"
STOP_GRACE_SECONDS = 30  # SIGTERM first, as zkServer.sh stop does; SIGKILL only after this


def home(spec: ZooKeeperSpec) -> str:
    """ZOOKEEPER_HOME: the stable link to the installed release."""
    return f"{spec.install_dir}/zookeeper"


def pid_file(spec: ZooKeeperSpec) -> str:
    return f"{spec.data_dir}/zookeeper_server.pid"


def java_home(inventory: Inventory) -> str:
    """JAVA_HOME for the servers: the JDK step's, else the vendor layout's default link."""
    return inventory.jdk.java_home if inventory.jdk else DEFAULT_JAVA_HOME


SCRIPT = "zk_server.sh"


def control(ctx: HostContext, action: str, spec: ZooKeeperSpec, java: str) -> tuple[str, int | None]:
    """Start, stop or restart the server on ``ctx``'s host; ('running'|'started'|'stopped'|'not running', pid)."""
    args = {"start": (home(spec), java, pid_file(spec)),
            "stop": (pid_file(spec), STOP_GRACE_SECONDS),
            "restart": (home(spec), java, pid_file(spec), STOP_GRACE_SECONDS)}[action]
    result = ctx.run_script(SCRIPT, action, *args, become=True)
    return parse_control_output(result.stdout)


def parse_control_output(output: str) -> tuple[str, int | None]:
    """('running'|'started'|'stopped'|'not running', pid) from a start or stop script's last line."""
    last = (output.strip().splitlines() or [""])[-1].split()
    if len(last) == 2 and last[1].isdigit():
        return last[0], int(last[1])
    return " ".join(last), None
