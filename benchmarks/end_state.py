"""What every contender must leave behind, checked outside the clock, and the srvr probe.

A time counts only for a run that did the whole job: a run whose end state
differs from the job is reported as failed, not as fast.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from runbook_job import Job

if TYPE_CHECKING:  # the floor imports this module and should not pay for importing the lab
    from clusterctl.lab import Lab

SERVING_MODES = ("leader", "follower", "observer")

# Run on each node (bash -s -- JAVA_HOME NEXT_NODE NAME...): a JDK behind java_home and the
# profile, every node's name resolving, and a login to the next node with the node's own key.
NODE_CHECK = r"""
java_home=$1 next=$2
shift 2
. /etc/profile.d/java.sh
[ "$JAVA_HOME" = "$java_home" ] || echo "JAVA_HOME is '$JAVA_HOME' in a login shell"
[ -x "$java_home/bin/java" ] && [ -f "$java_home/release" ] || echo "no JDK under $java_home"
for name in "$@"; do getent hosts "$name" >/dev/null || echo "$name does not resolve"; done
ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=20 "$next" true ||
    echo "no passwordless login to $next"
"""


def srvr_mode(address: str, port: int, timeout: float = 2.0) -> str | None:
    """The Mode a ZooKeeper server reports to ``srvr`` (leader, follower, ...), None if it does not answer."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(b"srvr")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return None
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def modes(job: Job) -> dict[str, str | None]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        found = pool.map(lambda name: srvr_mode(job.nodes[name], job.client_port), job.servers)
        return dict(zip(job.servers, found))


def serving(found: dict[str, str | None]) -> bool:
    """Every server serves clients, under exactly one leader."""
    values = list(found.values())
    return all(mode in SERVING_MODES for mode in values) and values.count("leader") == 1


def wait_until_serving(job: Job, timeout: float) -> dict[str, str | None]:
    """Poll every server until all serve under one leader; the last modes seen (check with serving())."""
    deadline = time.monotonic() + timeout
    while True:
        found = modes(job)
        if serving(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def check_trust(lab: Lab, names: list[str]) -> list[str]:
    """Each node logs in to the next one by name, with its own key and strict host keys."""
    def login(pair: tuple[str, str]) -> list[str]:
        source, target = pair
        result = lab.exec(source, ["ssh", "-n", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                                   "-o", "ConnectTimeout=20", target, "true"], timeout=120)
        return [] if result.returncode == 0 else [f"{source}: no passwordless login to {target}"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [p for found in pool.map(login, zip(names, names[1:] + names[:1])) for p in found]


# The configuration the node's server runs with: the file its JVM was given (the last argument of
# QuorumPeerMain: conf/zoo.cfg for a by-hand install, /etc/zookeeper/zoo.cfg for clusterctl's), and the
# membership file it names, if any, whose lines (server.N=host:q:e:participant;client) read as static ones
# (and its client port as clientPort).
RUNNING_CONFIG = r"""
pid=$(pgrep -f QuorumPeerMain | head -n 1)
[ -n "$pid" ] || exit 0
cfg=$(tr '\0' '\n' < "/proc/$pid/cmdline" | tail -n 1)
cat -- "$cfg"
dynamic=$(sed -n 's/^dynamicConfigFile=//p' "$cfg" | tail -n 1)
[ -n "$dynamic" ] || exit 0
sed -e 's/;.*$//' -e 's/:participant$//' "$dynamic"; echo
# The client port too is in the membership file there (server.N=…;address:port).
sed -n 's/^server\.[0-9]*=.*;.*:\([0-9]*\)$/clientPort=\1/p' "$dynamic" | head -n 1
exit 0
"""


def running_config(lab: Lab, name: str) -> str:
    return lab.exec(name, ["bash", "-s"], input=RUNNING_CONFIG.encode(), timeout=60).stdout.decode(errors="replace")


def check_end_state(lab: Lab, job: Job) -> list[str]:
    """Every way the lab differs from the job's end state, one line each (empty: all done)."""
    names = list(job.nodes)
    ring = {name: names[(i + 1) % len(names)] for i, name in enumerate(names)}

    def node_problems(name: str) -> list[str]:
        result = lab.exec(name, ["bash", "-s", "--", job.java_home, ring[name], *names],
                          input=NODE_CHECK.encode(), timeout=120)
        lines = result.stdout.decode(errors="replace").split("\n") + result.stderr.decode(errors="replace").split("\n")
        problems = [line for line in lines if line.strip() and "Warning: Permanently added" not in line]
        if name in job.servers:
            myid = lab.exec(name, ["cat", f"{job.data_dir}/myid"]).stdout.decode().strip()
            if myid != str(job.servers[name]):
                problems.append(f"myid is {myid!r}, not {job.servers[name]}")
            cfg = running_config(lab, name)
            # A subset, not equality: clusterctl may write settings the job does not name (autopurge, ...).
            missing = set(job.zoo_cfg().splitlines()) - set(cfg.splitlines())
            if missing:
                problems.append(f"zoo.cfg lacks {sorted(missing)[0]!r}")
        return [f"{name}: {problem}" for problem in problems]

    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [p for found in pool.map(node_problems, names) for p in found]
    found = modes(job)
    if not serving(found):
        problems.append(f"the ensemble does not serve under one leader: {found}")
    return problems
