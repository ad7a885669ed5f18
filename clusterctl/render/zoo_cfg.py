"""ZooKeeper's configuration files, rendered from the inventory: zoo.cfg and java.env."""

from __future__ import annotations

import shlex

from ..inventory import OWN_ADDRESS, Inventory, ZooKeeperSpec
from ..tls.phases import TlsState
from ..tls.reload import client_cert_reload_supported, release_version
from .jaas import client_sasl_lines, quorum_sasl_lines
from .key_values import parse_key_values
from .zk_settings import setting_lines
from .zk_service import DROPIN_PATH, SECRET_VARIABLE, UNIT, server_environment, super_option


def shell_word(value: str) -> str:
    return shlex.quote(value)


ROLES = ("participant", "observer")


def client_address(spec: ZooKeeperSpec) -> str:
    """Where the plaintext client port listens: every address, or with [tls] client = "required" the node's
    loopback alone (tools on the node itself; every other host must use TLS)."""
    return "127.0.0.1" if spec.tls.client == "required" else "0.0.0.0"


def server_line(spec: ZooKeeperSpec, host: str, server_id: int, observer: bool) -> str:
    """``server.N=host:quorum:election:role;ADDRESS:clientPort``, as a dynamic membership line.

    Peers are named by inventory host name, which the managed /etc/hosts block
    resolves on every node, so changing an address never touches the membership.
    """
    role = "observer" if observer else "participant"
    return (f"server.{server_id}={host}:{spec.quorum_port}:{spec.election_port}:{role};"
            f"{client_address(spec)}:{spec.client_port}")


def parse_client_addresses(text: str) -> dict[int, str]:
    """id → the address of its plaintext client port ("0.0.0.0", "127.0.0.1"; "" for none) in a membership."""
    out = {}
    for key, value in parse_key_values(text).items():
        if key.startswith("server.") and key[7:].isdigit():
            client = value.split(";", 1)[1] if ";" in value else ""
            out[int(key[7:])] = client.rpartition(":")[0] if ":" in client else ("0.0.0.0" if client else "")
    return out


def admin_server_lines(spec: ZooKeeperSpec) -> list[str]:
    """The embedded Jetty AdminServer: an unauthenticated HTTP endpoint, off unless asked for."""
    if spec.admin_server == "off":
        return ["admin.enableServer=false"]
    lines = ["admin.enableServer=true"]
    if spec.admin_server == "localhost":
        lines.append("admin.serverAddress=127.0.0.1")
    return lines + [f"admin.serverPort={spec.admin_port}"]


PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def metrics_lines(spec: ZooKeeperSpec, inventory: Inventory, host: str | None) -> list[str]:
    """ZooKeeper's Prometheus endpoint, where [zookeeper] metrics asks for it (its jar must be in the release:
    see :func:`clusterctl.packages.require_metrics_provider`); it has no authentication, so it binds to the
    address the inventory names. ``host`` is needed when that is each server's own address."""
    if spec.metrics is None:
        return []
    if spec.metrics.host == OWN_ADDRESS and host is None:
        raise ValueError("metrics bound to each server's own address: render_zoo_cfg needs the server's host")
    bind = spec.metrics.bind_address(inventory.hosts[host].address if host is not None else "")
    return [f"metricsProvider.className={PROMETHEUS_PROVIDER}", f"metricsProvider.httpPort={spec.metrics.port}",
            f"metricsProvider.httpHost={bind}"]


def dynamic_path(spec: ZooKeeperSpec) -> str:
    """The first membership file; ZooKeeper then writes its own, ``zoo.cfg.dynamic.<version>``, beside it."""
    return f"{spec.conf_dir}/zoo.cfg.dynamic"


def tls_dir(spec: ZooKeeperSpec) -> str:
    """The server's key and certificates on its node, the service account's alone."""
    return f"{spec.conf_dir}/tls"


def keystore_path(spec: ZooKeeperSpec) -> str:
    """The server's private key and certificate chain, one PEM file (ZooKeeper reads PEM since 3.5.5: no
    keystore password to keep)."""
    return f"{tls_dir(spec)}/keystore.pem"


def truststore_path(spec: ZooKeeperSpec) -> str:
    """The CA certificates the server trusts, PEM."""
    return f"{tls_dir(spec)}/truststore.pem"


def tls_lines(spec: ZooKeeperSpec, state: TlsState) -> list[str]:
    """zoo.cfg's TLS settings for ``state`` (see :mod:`clusterctl.tls.phases`); none when TLS is off.

    Settings zoo.cfg does not know become ZooKeeper's ``zookeeper.*`` system
    properties, so they are read from here and never from a command line.
    """
    lines = []
    if state.quorum:
        lines += [f"ssl.quorum.keyStore.location={keystore_path(spec)}", "ssl.quorum.keyStore.type=PEM",
                  f"ssl.quorum.trustStore.location={truststore_path(spec)}", "ssl.quorum.trustStore.type=PEM",
                  # Peers are checked against the names in their certificates; said, not left to a default:
                  # 3.9 turns its FIPS mode on by default, which skips that check (3.8 ignores the setting).
                  "ssl.quorum.hostnameVerification=true", "fips-mode=false",
                  # A renewed certificate is read without a restart.
                  "sslQuorumReloadCertFiles=true"]
        if state.quorum >= 2:
            lines.append("sslQuorum=true")
        if state.quorum in (1, 2):
            lines.append("portUnification=true")
    if state.client:
        lines += ["serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                  f"secureClientPort={spec.tls.secure_client_port}",
                  f"ssl.keyStore.location={keystore_path(spec)}", "ssl.keyStore.type=PEM",
                  f"ssl.trustStore.location={truststore_path(spec)}", "ssl.trustStore.type=PEM",
                  f"ssl.clientAuth={spec.tls.client_auth}"]
        if client_cert_reload_supported(release_version(spec.package.name)):
            lines.append("client.certReload=true")  # a renewed certificate is read without a restart (3.8.5+)
    return lines


def render_zoo_cfg(spec: ZooKeeperSpec, inventory: Inventory, host: str | None = None,
                   tls: TlsState = TlsState(), dynamic_file: str | None = None) -> str:
    """The static zoo.cfg of ``host``: everything but the membership, which is the dynamic file's.

    Membership changes go through ZooKeeper's reconfig (3.5+), which rewrites
    this file itself (order, comments, the dynamicConfigFile line); it is
    compared by its settings, see :func:`static_differs`. A server's role is
    its membership line's alone (no ``peerType`` here), so that promoting or
    demoting it by reconfig leaves nothing in this file stale. ``tls`` is
    the TLS phase to write; ``dynamic_file`` the membership file the server
    reads now (after a reconfig, ZooKeeper's newest), kept when the file is
    written again.
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
        *metrics_lines(spec, inventory, host),
        # Data hygiene: snapshots and transaction logs are purged, keeping the newest few.
        f"snapCount={spec.snap_count}",
        f"autopurge.snapRetainCount={spec.snap_retain_count}",
        f"autopurge.purgeInterval={spec.purge_interval}",
        # Membership through reconfig, which only the super user (clusterctl) may run.
        "reconfigEnabled=true",
        "standaloneEnabled=false",
        f"dynamicConfigFile={dynamic_file or dynamic_path(spec)}",
        *tls_lines(spec, tls),
        *setting_lines(spec.settings),
        *quorum_sasl_lines(tls.sasl, len(spec.servers)),
        *client_sasl_lines(spec.sasl),
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


def render_java_env(spec: ZooKeeperSpec, java_home: str, supervised: bool, super_digest: str,
                    jaas: bool = False) -> str:
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
    lines += [f"export {name}={shell_word(value)}" for name, value in server_environment(spec, java_home, jaas)]
    lines.append(f"export {SECRET_VARIABLE}={shell_word(super_option(super_digest))}")
    return "\n".join(lines) + "\n"


def render_secret_env(super_digest: str) -> str:
    """The unit's EnvironmentFile: the super user's digest, kept out of argv (ps) and of systemctl show."""
    return f"{SECRET_VARIABLE}={super_option(super_digest)}\n"


def render_myid(server_id: int) -> str:
    """The data directory's myid file: the server's id and nothing else."""
    return f"{server_id}\n"
