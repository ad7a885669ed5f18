"""The ZooKeeper server as a systemd service: the unit, its drop-in, and the environment both paths share."""

from __future__ import annotations

from ..inventory import Inventory, ZooKeeperSpec
from .jaas import login_option

UNIT = "zookeeper.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
DROPIN_PATH = f"/etc/systemd/system/{UNIT}.d/clusterctl.conf"
# Run before every start of the unit (remote/zk_member_guard.sh): a server the ensemble left behind while its
# machine was away (zk recover) is not started by its unit when the machine boots again.
GUARD_PATH = "/usr/local/lib/clusterctl-zookeeper/zk_member_guard.sh"
LOG_FILE = "zookeeper.log"
# The JVM reads this variable itself (JDK 9+), so the option never shows in the process's arguments.
SECRET_VARIABLE = "JDK_JAVA_OPTIONS"


def secret_env_path(spec: ZooKeeperSpec) -> str:
    return f"{spec.conf_dir}/super.env"


def super_option(super_digest: str) -> str:
    """The JVM option that makes ``super:<digest>`` ZooKeeper's super user (who alone may reconfig)."""
    return f"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:{super_digest}"


def zookeeper_home(spec: ZooKeeperSpec) -> str:
    return f"{spec.install_dir}/zookeeper"


def server_jvm_flags(spec: ZooKeeperSpec, jaas: bool = False) -> list[str]:
    """The server's JVM flags: logs to a rotated file in log_dir (warnings also to the journal), GC logs
    rotated beside them, the JAAS file's path where SASL is on (``jaas``), then the inventory's own."""
    return [
        "-Dzookeeper.root.logger=INFO,ROLLINGFILE,CONSOLE",
        "-Dzookeeper.console.threshold=WARN",
        f"-Xlog:gc*:file={spec.log_dir}/gc.log:time,uptime,level,tags:filecount=5,filesize=20M",
        *([login_option(spec)] if jaas else []),
        *spec.jvm_flags,
    ]


def server_environment(spec: ZooKeeperSpec, java_home: str, jaas: bool = False) -> list[tuple[str, str]]:
    """(name, value) of the server's environment, as zkEnv.sh and zkServer.sh read it, in order."""
    return [
        ("JAVA_HOME", java_home),
        ("ZOOCFGDIR", spec.conf_dir),
        ("ZK_SERVER_HEAP", str(spec.heap_mb)),
        ("ZOO_LOG_DIR", spec.log_dir),
        ("ZOO_LOG_FILE", LOG_FILE),
        ("SERVER_JVMFLAGS", " ".join(server_jvm_flags(spec, jaas))),
        *spec.environment,
    ]


def render_unit(spec: ZooKeeperSpec, inventory: Inventory) -> str:
    """/etc/systemd/system/zookeeper.service: the server in the foreground, as its own user, restarted on failure."""
    return f"""\
# Written by clusterctl for cluster {inventory.cluster.name}; change the inventory and run
# `clusterctl zk install` rather than editing this file. The server's JVM and environment are
# in {DROPIN_PATH}.
[Unit]
Description=Apache ZooKeeper server (cluster {inventory.cluster.name})
Documentation=https://zookeeper.apache.org/doc/current/zookeeperAdmin.html
Wants=network-online.target
After=network-online.target
# At most 10 failed starts in 5 minutes, then systemd stops trying: a server that cannot run
# is not restarted forever (`systemctl reset-failed zookeeper` lets it try again).
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=simple
User={spec.user}
Group={spec.group}
WorkingDirectory={spec.data_dir}
# Refuses (and says why in the journal) to start a server that a recovery left out of the ensemble.
ExecStartPre=/bin/bash {GUARD_PATH} {spec.conf_dir}/zoo.cfg
ExecStart={zookeeper_home(spec)}/bin/zkServer.sh start-foreground
Restart=on-failure
RestartSec=5s
# The JVM exits 143 on SIGTERM, which is how systemd stops it.
SuccessExitStatus=143
TimeoutStopSec=30s
LimitNOFILE=65536
UMask=0027

[Install]
WantedBy=multi-user.target
"""


def render_dropin(spec: ZooKeeperSpec, java_home: str, jaas: bool = False) -> str:
    """The unit's drop-in: heap, JVM flags and environment from the inventory; the secret from its own file."""
    lines = ["# Written by clusterctl from the inventory's [zookeeper] heap_mb, jvm_flags, log_dir and environment.",
             "[Service]",
             # Root-only, read by systemd before it drops to the account: the super user's digest.
             f"EnvironmentFile={secret_env_path(spec)}"]
    # Quoted whole: systemd splits Environment= on spaces, and SERVER_JVMFLAGS has several words.
    lines += [f'Environment="{name}={value}"' for name, value in server_environment(spec, java_home, jaas)]
    return "\n".join(lines) + "\n"
