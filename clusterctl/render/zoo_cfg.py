"""ZooKeeper's configuration files, rendered from the inventory: zoo.cfg and java.env."""

from __future__ import annotations

import shlex

from ..inventory import Inventory, ZooKeeperSpec
from .key_values import parse_key_values
from .zk_service import DROPIN_PATH, SECRET_VARIABLE, UNIT, server_environment, super_option


def shell_word(value: str) -> str:
    return shlex.quote(value)


ROLES = ("participant", "observer")


def server_line(spec: ZooKeeperSpec, host: str, server_id: int, observer: bool) -> str:
    """``server.N=host:quorum:election:role;0.0.0.0:clientPort``, as a dynamic membership line.

    Peers are named by inventory host name, which the managed /etc/hosts block
    resolves on every node, so changing an address never touches the membership.
    """
    role = "observer" if observer else "participant"
    return f"server.{server_id}={host}:{spec.quorum_port}:{spec.election_port}:{role};0.0.0.0:{spec.client_port}"


def admin_server_lines(spec: ZooKeeperSpec) -> list[str]:
    """The embedded Jetty AdminServer: an unauthenticated HTTP endpoint, off unless asked for."""
    if spec.admin_server == "off":
        return ["admin.enableServer=false"]
    lines = ["admin.enableServer=true"]
    if spec.admin_server == "localhost":
        lines.append("admin.serverAddress=127.0.0.1")
    return lines + [f"admin.serverPort={spec.admin_port}"]


def dynamic_path(spec: ZooKeeperSpec) -> str:
    """The first membership file; ZooKeeper then writes its own, ``zoo.cfg.dynamic.<version>``, beside it."""
    return f"{spec.conf_dir}/zoo.cfg.dynamic"


def render_zoo_cfg(spec: ZooKeeperSpec, inventory: Inventory, host: str | None = None) -> str:
    """The static zoo.cfg of ``host``: everything but the membership, which is the dynamic file's.

    Membership changes go through ZooKeeper's reconfig (3.5+), which rewrites
    this file itself (order, comments, the dynamicConfigFile line); it is
    compared by its settings, see :func:`static_differs`. A server's role is
    its membership line's alone (no ``peerType`` here), so that promoting or
    demoting it by reconfig leaves nothing in this file stale.
    """
    lines = [
        f"# ZooKeeper ensemble of cluster {inventory.cluster.name!r}, written by clusterctl from the inventory.",
        "# The membership is in the dynamic file; change it with clusterctl zk add/remove/replace.",
        f"tickTime={spec.tick_time}",
        f"initLimit={spec.init_limit}",
        f"syncLimit={spec.sync_limit}",
        f"dataDir={spec.data_dir}",
        f"dataLogDir={spec.data_log_dir}",
        # Since 3.5 a server answers only srvr unless told otherwise; zk status needs srvr (and mntr).
        "4lw.commands.whitelist=" + ", ".join(spec.four_letter_words),
        *admin_server_lines(spec),
        # Data hygiene: snapshots and transaction logs are purged, keeping the newest few.
        f"snapCount={spec.snap_count}",
        f"autopurge.snapRetainCount={spec.snap_retain_count}",
        f"autopurge.purgeInterval={spec.purge_interval}",
        # Membership through reconfig, which only the super user (clusterctl) may run.
        "reconfigEnabled=true",
        "standaloneEnabled=false",
        f"dynamicConfigFile={dynamic_path(spec)}",
    ]
    return "\n".join(lines) + "\n"


def render_dynamic(spec: ZooKeeperSpec, members: list[tuple[int, str, bool]]) -> str:
    """A membership file: one server line for each (id, host, observer), by id."""
    return "".join(server_line(spec, host, sid, observer) + "\n" for sid, host, observer in sorted(members))


# What ZooKeeper itself may change in a static file: where the membership is, and the lines it moves there
# (an observer's peerType follows from its membership line).
SELF_MANAGED = ("dynamicConfigFile", "clientPort", "clientPortAddress", "peerType")


def static_differs(current: str, wanted: str) -> bool:
    """Whether a static zoo.cfg sets something else than ``wanted``, ignoring what ZooKeeper manages itself."""
    return bool(changed_settings(current, wanted))


def changed_settings(current: str, wanted: str) -> list[str]:
    """What ``wanted`` sets differently from ``current``, in a few words each: ``syncLimit 5 → 7`` (pure)."""
    def settings(text: str) -> dict[str, str]:
        return {k: v for k, v in parse_key_values(text).items()
                if k not in SELF_MANAGED and not k.startswith("server.")}
    now, then = settings(current), settings(wanted)
    out = []
    for key in dict.fromkeys([*then, *now]):
        if key not in now:
            out.append(f"{key}={then[key]} added")
        elif key not in then:
            out.append(f"{key} removed")
        elif now[key] != then[key]:
            out.append(f"{key} {now[key]} → {then[key]}")
    return out


def parse_members(text: str) -> dict[int, tuple[str, str]]:
    """id → (host, role) of the server lines of a dynamic (or old static) config file."""
    members = {}
    for key, value in parse_key_values(text).items():
        if key.startswith("server.") and key[7:].isdigit():
            address = value.split(";")[0].split(":")
            role = address[3] if len(address) > 3 and address[3] in ROLES else "participant"
            members[int(key[7:])] = (address[0], role)
    return members


def render_java_env(spec: ZooKeeperSpec, java_home: str, supervised: bool, super_digest: str) -> str:
    """java.env in the config directory, which zkEnv.sh sources before it starts the server.

    Under systemd the server's environment is the unit's drop-in and the
    secret's file, and java.env must not override them; started by
    zkServer.sh, java.env carries it all (it is readable by root and the
    service account only).
    """
    if supervised:
        return (f"# Written by clusterctl. The server runs as {UNIT}; its heap, JVM flags and environment\n"
                f"# are in {DROPIN_PATH}. Nothing is set here, so that nothing overrides them.\n")
    lines = ["# Written by clusterctl from the inventory's [zookeeper] (no systemd here: zkServer.sh reads it)."]
    lines += [f"export {name}={shell_word(value)}" for name, value in server_environment(spec, java_home)]
    lines.append(f"export {SECRET_VARIABLE}={shell_word(super_option(super_digest))}")
    return "\n".join(lines) + "\n"


def render_secret_env(super_digest: str) -> str:
    """The unit's EnvironmentFile: the super user's digest, kept out of argv (ps) and of systemctl show."""
    return f"{SECRET_VARIABLE}={super_option(super_digest)}\n"


def render_myid(server_id: int) -> str:
    """The data directory's myid file: the server's id and nothing else."""
    return f"{server_id}\n"
