"""ZooKeeper's configuration files, rendered from the inventory: zoo.cfg and java.env."""

from __future__ import annotations

import shlex

from ..inventory import Inventory, ZooKeeperSpec
from .zk_service import DROPIN_PATH, UNIT, server_environment


def shell_word(value: str) -> str:
    return shlex.quote(value)


def server_line(spec: ZooKeeperSpec, host: str, server_id: int, observer: bool) -> str:
    """``server.N=host:quorum:election``, with ``:observer`` for a non-voting member.

    Peers are named by inventory host name, which the managed /etc/hosts block
    resolves on every node, so changing an address never touches zoo.cfg.
    """
    suffix = ":observer" if observer else ""
    return f"server.{server_id}={host}:{spec.quorum_port}:{spec.election_port}{suffix}"


def admin_server_lines(spec: ZooKeeperSpec) -> list[str]:
    """The embedded Jetty AdminServer: an unauthenticated HTTP endpoint, off unless asked for."""
    if spec.admin_server == "off":
        return ["admin.enableServer=false"]
    lines = ["admin.enableServer=true"]
    if spec.admin_server == "localhost":
        lines.append("admin.serverAddress=127.0.0.1")
    return lines + [f"admin.serverPort={spec.admin_port}"]


def render_zoo_cfg(spec: ZooKeeperSpec, inventory: Inventory, host: str | None = None) -> str:
    """zoo.cfg for the ensemble; for ``host``, that server's own copy.

    Every server gets the same file except an observer, whose copy also says
    ``peerType=observer`` (ZooKeeper derives it from its server line too, but
    the documented setup names it in the observer's own file).
    """
    own = next((s for s in spec.servers if s.host == host), None)
    lines = [
        f"# ZooKeeper ensemble of cluster {inventory.cluster.name!r}, written by 'clusterctl zk install'.",
        "# Change the inventory and run it again rather than editing this file.",
        f"tickTime={spec.tick_time}",
        f"initLimit={spec.init_limit}",
        f"syncLimit={spec.sync_limit}",
        f"dataDir={spec.data_dir}",
        f"dataLogDir={spec.data_log_dir}",
        f"clientPort={spec.client_port}",
        # Since 3.5 a server answers only srvr unless told otherwise; zk status needs srvr (and mntr).
        "4lw.commands.whitelist=" + ", ".join(spec.four_letter_words),
        *admin_server_lines(spec),
        # Data hygiene: snapshots and transaction logs are purged, keeping the newest few.
        f"snapCount={spec.snap_count}",
        f"autopurge.snapRetainCount={spec.snap_retain_count}",
        f"autopurge.purgeInterval={spec.purge_interval}",
    ]
    if own is not None and own.observer:
        lines.append("peerType=observer")
    lines += [server_line(spec, s.host, s.id, s.observer) for s in sorted(spec.servers, key=lambda s: s.id)]
    return "\n".join(lines) + "\n"


def render_java_env(spec: ZooKeeperSpec, java_home: str, supervised: bool) -> str:
    """conf/java.env, which zkEnv.sh sources before it starts the server.

    Under systemd the server's environment is the unit's drop-in, and
    java.env must not override it; started by zkServer.sh, java.env carries it.
    """
    if supervised:
        return (f"# Written by clusterctl. The server runs as {UNIT}; its heap, JVM flags and environment\n"
                f"# are in {DROPIN_PATH}. Nothing is set here, so that nothing overrides them.\n")
    lines = ["# Written by clusterctl from the inventory's [zookeeper] (no systemd here: zkServer.sh reads it)."]
    lines += [f"export {name}={shell_word(value)}" for name, value in server_environment(spec, java_home)]
    return "\n".join(lines) + "\n"


def render_myid(server_id: int) -> str:
    """The data directory's myid file: the server's id and nothing else."""
    return f"{server_id}\n"
