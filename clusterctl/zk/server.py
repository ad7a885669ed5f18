"""Starting and stopping one ZooKeeper server on its node, the way zkServer.sh does it.

zkServer.sh keeps the server's pid in ``<dataDir>/zookeeper_server.pid``; that
file is how clusterctl tells a running server too. Shell text is built here
(pure); the step modules run it through the session.
"""

from __future__ import annotations

import shlex

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


def running_pid_snippet(spec: ZooKeeperSpec) -> str:
    """Shell that prints the server's pid and exits 0 when it runs, else exits non-zero."""
    pid = shlex.quote(pid_file(spec))
    return (f'pid=$(cat {pid} 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null '
            f'&& grep -qa QuorumPeerMain "/proc/$pid/cmdline" && echo "$pid"')


def start_script(spec: ZooKeeperSpec, java: str) -> str:
    """Start the server unless it runs; print 'running PID' or 'started PID'.

    JAVA_HOME is set here because a non-login SSH session never reads
    /etc/profile.d. On failure the tail of the server's console log says why.
    """
    zk = shlex.quote(home(spec))
    return (
        f'if pid=$({running_pid_snippet(spec)}); then echo "running $pid"; exit 0; fi\n'
        f"cd / && export JAVA_HOME={shlex.quote(java)}\n"
        f"if ! out=$({zk}/bin/zkServer.sh start 2>&1); then\n"
        f'  echo "$out" >&2; tail -n 15 {zk}/logs/zookeeper-*-server-*.out >&2 2>/dev/null; exit 1\n'
        f"fi\n"
        f'echo "started $(cat {shlex.quote(pid_file(spec))})"\n'
    )


def stop_script(spec: ZooKeeperSpec) -> str:
    """Stop the server if it runs and wait until it has exited; print 'stopped PID' or 'not running'.

    zkServer.sh stop sends SIGTERM and returns at once; waiting for the exit
    is what lets a restart bind the ports again and a rolling restart count.
    """
    pid = shlex.quote(pid_file(spec))
    return (
        f'if ! pid=$({running_pid_snippet(spec)}); then rm -f {pid}; echo "not running"; exit 0; fi\n'
        f'kill "$pid"\n'
        f"for _ in $(seq {STOP_GRACE_SECONDS * 10}); do kill -0 \"$pid\" 2>/dev/null || break; sleep 0.1; done\n"
        f'if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; sleep 0.2; fi\n'
        f'rm -f {pid}; echo "stopped $pid"\n'
    )


def parse_control_output(output: str) -> tuple[str, int | None]:
    """('running'|'started'|'stopped'|'not running', pid) from a start or stop script's last line."""
    last = (output.strip().splitlines() or [""])[-1].split()
    if len(last) == 2 and last[1].isdigit():
        return last[0], int(last[1])
    return " ".join(last), None
