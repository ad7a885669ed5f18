"""The job every side-by-side contender does, read from a lab's clusterctl inventory.

clusterctl reads the inventory itself; the floor (benchmarks/floor.py) and the
pyinfra deploy (benchmarks/peers/pyinfra_runbook/) get the same hosts, ports,
paths and files from here, so all three leave the same end state. The
inventory is read as plain TOML, not through clusterctl's loader, so that a
change in clusterctl cannot change what its peers are asked to do. Defaults
are clusterctl's (tick 2000 ms, initLimit 5, syncLimit 2, its 4lw list).
"""

from __future__ import annotations

import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

JAVA_DIR = "/usr/java"  # where the JDK tarball is unpacked, as clusterctl and the vendor rpm do
HOSTS_BEGIN = "# BEGIN benchmark hosts"
HOSTS_END = "# END benchmark hosts"


def tarball_top(path: Path) -> str:
    """The one directory a release tarball unpacks into (its first member's first part)."""
    with tarfile.open(path, "r:gz") as tar:
        return tar.next().name.split("/", 1)[0]


@dataclass(frozen=True)
class Job:
    """Who and what: nodes, credentials, packages, the ensemble and its settings."""

    inventory: Path
    nodes: dict[str, str]  # name → address, in inventory order
    user: str
    identity: Path
    known_hosts: Path
    jdk_tarball: Path
    jdk_top: str
    java_home: str
    zk_tarball: Path
    zk_top: str
    install_dir: str
    data_dir: str
    data_log_dir: str
    servers: dict[str, int]  # name → myid
    client_port: int
    quorum_port: int
    election_port: int
    heap_mb: int
    tick_time: int
    init_limit: int
    sync_limit: int
    four_letter_words: tuple[str, ...]

    @property
    def jdk_home(self) -> str:
        return f"{JAVA_DIR}/{self.jdk_top}"

    @property
    def zk_release_dir(self) -> str:
        return f"{self.install_dir}/{self.zk_top}"

    @property
    def zk_home(self) -> str:
        return f"{self.install_dir}/zookeeper"

    def zoo_cfg(self) -> str:
        """The same settings and server lines clusterctl writes (its comments left out)."""
        lines = [f"tickTime={self.tick_time}", f"initLimit={self.init_limit}", f"syncLimit={self.sync_limit}",
                 f"dataDir={self.data_dir}", f"dataLogDir={self.data_log_dir}", f"clientPort={self.client_port}",
                 "4lw.commands.whitelist=" + ", ".join(self.four_letter_words), "admin.enableServer=false"]
        lines += [f"server.{myid}={name}:{self.quorum_port}:{self.election_port}"
                  for name, myid in sorted(self.servers.items(), key=lambda item: item[1])]
        return "\n".join(lines) + "\n"

    def java_env(self) -> str:
        """conf/java.env: zkEnv.sh sizes the server's heap from it."""
        return f"ZK_SERVER_HEAP={self.heap_mb}\n"

    def hosts_lines(self) -> str:
        return "".join(f"{address} {name}\n" for name, address in self.nodes.items())

    def java_profile(self) -> str:
        return (f'export JAVA_HOME="{self.java_home}"\n'
                f'case ":$PATH:" in *:"{self.java_home}/bin":*) ;; *) PATH="{self.java_home}/bin:$PATH" ;; esac\n'
                "export PATH\n")

    def zk_profile(self) -> str:
        return (f'export ZOOKEEPER_HOME="{self.zk_home}"\n'
                'case ":$PATH:" in *:"$ZOOKEEPER_HOME/bin":*) ;; *) PATH="$ZOOKEEPER_HOME/bin:$PATH" ;; esac\n'
                "export PATH\n")


def load_job(inventory: Path) -> Job:
    """The job of the lab inventory at ``inventory`` (with the runbook's [jdk] and [zookeeper])."""
    data = tomllib.loads(inventory.read_text())
    base = inventory.parent

    def local(value: str) -> Path:
        return (base / value).resolve()

    cluster, jdk, zk = data["cluster"], data["jdk"], data["zookeeper"]
    jdk_tarball, zk_tarball = local(jdk["package"]), local(zk["package"])
    if not jdk_tarball.name.endswith(".tar.gz"):
        raise SystemExit(f"{inventory}: the side-by-side job needs the JDK tarball, not {jdk_tarball.name}")
    return Job(
        inventory=inventory,
        nodes={name: host["address"] for name, host in data["hosts"].items()},
        user=cluster.get("user", "root"),
        identity=local(cluster["identity"]),
        known_hosts=local(cluster["known_hosts"]),
        jdk_tarball=jdk_tarball,
        jdk_top=tarball_top(jdk_tarball),
        java_home=jdk.get("java_home", "/usr/java/default"),
        zk_tarball=zk_tarball,
        zk_top=tarball_top(zk_tarball),
        install_dir=zk.get("install_dir", "/opt"),
        data_dir=zk.get("data_dir", "/var/lib/zookeeper"),
        data_log_dir=zk.get("data_log_dir", "/var/lib/zookeeper/datalog"),
        servers=dict(zk["servers"]),
        client_port=zk.get("client_port", 2181),
        quorum_port=zk.get("quorum_port", 2888),
        election_port=zk.get("election_port", 3888),
        heap_mb=zk.get("heap_mb", 1000),
        tick_time=zk.get("tick_time", 2000),
        init_limit=zk.get("init_limit", 5),
        sync_limit=zk.get("sync_limit", 2),
        four_letter_words=tuple(zk.get("four_letter_words", ["srvr", "mntr", "ruok", "stat", "conf", "isro"])),
    )
