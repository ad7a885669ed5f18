"""The inventory as data: the cluster, its hosts and what each step installs, as checked and defaulted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KEY_TYPES = ("ed25519", "rsa")
DISTRIBUTE_MODES = ("auto", "direct", "relay", "pipeline")
JDK_PACKAGE_KINDS = {".rpm": "rpm", ".deb": "deb", ".tar.gz": "tarball", ".tgz": "tarball"}
RELEASE_KINDS = {".tar.gz": "tarball", ".tgz": "tarball"}  # a ZooKeeper release
ADMIN_SERVER_MODES = ("off", "localhost", "all")
BECOME_METHODS = ("sudo", "none")
TLS_CLIENT_MODES = ("off", "optional", "required")
TLS_CLIENT_AUTH = ("need", "want", "none")
SASL_CLIENT_MODES = ("off", "optional", "required")
# The digest super user; clusterctl's own SASL client; the quorum's password (sasl rotate quorum).
SASL_RESERVED_USERS = ("super", "clusterctl", "quorum")


@dataclass(frozen=True)
class Jump:
    """A bastion the connection to a host goes through (OpenSSH's ProxyJump)."""

    host: str
    user: str | None = None
    port: int = 22

    def __str__(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}{'' if self.port == 22 else f':{self.port}'}"


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # the address clusterctl connects to (ssh_address if given)
    user: str
    port: int
    identity: Path | None
    static_address: str | None = None  # the address the network step configures
    interface: str | None = None
    prefix: int | None = None
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    become: str = "none"  # "sudo": root's work goes through sudo (the default for a user other than root)
    jump: tuple[Jump, ...] = ()  # bastions, in order; empty: straight there (or as ~/.ssh/config says)
    jump_given: bool = False  # the inventory named the jump (or "none"): ~/.ssh/config's ProxyJump is not used
    given: frozenset[str] = frozenset()  # which of user, port, identity, become the inventory set (for ssh_config)
    strict_host_keys: bool = False  # an unseen host key is refused, not pinned (StrictHostKeyChecking yes)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    user: str
    port: int
    identity: Path | None
    known_hosts: Path
    become: str | None = None  # None: sudo for a user other than root
    jump: tuple[Jump, ...] = ()
    jump_given: bool = False


@dataclass(frozen=True)
class SshTrustSpec:
    key_type: str
    hosts: tuple[str, ...]
    user: str | None = None  # whose trust: None, each host's login user


@dataclass(frozen=True)
class JdkSpec:
    package: Path
    kind: str  # rpm | deb | tarball
    hosts: tuple[str, ...]
    stage_dir: str
    java_home: str
    distribute: str


@dataclass(frozen=True)
class ZkServer:
    host: str
    id: int
    observer: bool = False


@dataclass(frozen=True)
class TlsSpec:
    """The inventory's [tls]: what the ensemble encrypts and who must show a certificate."""

    quorum: bool = False  # sslQuorum between servers, mutual (each checks the other's certificate)
    client: str = "off"  # off | optional (plaintext and TLS ports) | required (TLS port only)
    client_auth: str = "need"  # need | want | none: whether a client must present a certificate
    ca_cert: Path | None = None  # the operator's CA (with ca_key); None: the managed CA kept on the controller
    ca_key: Path | None = None
    days: int = 397  # lifetime of the certificates clusterctl issues
    renew_days: int = 30  # re-issued when fewer days are left
    secure_client_port: int = 2281

    @property
    def enabled(self) -> bool:
        return self.quorum or self.client != "off"

    @property
    def managed(self) -> bool:
        return self.ca_cert is None


@dataclass(frozen=True)
class SaslSpec:
    """The inventory's [sasl]: DIGEST-MD5 between servers and for the client users it names (passwords made
    and kept on the controller, see :mod:`clusterctl.zk.sasl`)."""

    quorum: bool = False  # servers authenticate each other (quorum.auth.*), rolled in three phases
    client: str = "off"  # off | optional (SASL accepted) | required (every session must authenticate)
    users: tuple[str, ...] = ()  # client users the servers know, each with its own password

    @property
    def enabled(self) -> bool:
        """The servers read a JAAS file (some SASL is on, or asked for)."""
        return self.quorum or self.client != "off"


@dataclass(frozen=True)
class MetricsSpec:
    """The inventory's [zookeeper] metrics: ZooKeeper's Prometheus endpoint (unauthenticated in 3.8), bound
    where the operator says."""

    port: int = 7000
    host: str = "127.0.0.1"  # an IP address every server binds to, or OWN_ADDRESS: each its [hosts] address

    def bind_address(self, own_address: str) -> str:
        """What a server whose inventory address is ``own_address`` binds the endpoint to."""
        return own_address if self.host == OWN_ADDRESS else self.host


OWN_ADDRESS = "address"  # [zookeeper] metrics host: each server its own [hosts] address


@dataclass(frozen=True)
class ZooKeeperSpec:
    package: Path
    install_dir: str
    data_dir: str
    data_log_dir: str
    client_port: int
    quorum_port: int
    election_port: int
    tick_time: int
    init_limit: int
    sync_limit: int
    servers: tuple[ZkServer, ...]
    admin_server: str  # off | localhost | all
    admin_port: int
    four_letter_words: tuple[str, ...]
    distribute: str
    heap_mb: int = 1000  # the server JVM's -Xmx (ZooKeeper's own default)
    user: str = "zookeeper"  # the system account the server runs as (never root)
    group: str = "zookeeper"
    log_dir: str = "/var/log/zookeeper"  # server and GC logs, rotated
    snap_retain_count: int = 3  # autopurge keeps this many snapshots (and their logs); ZooKeeper's minimum is 3
    purge_interval: int = 24  # hours between purges; 0 turns autopurge off (warned about)
    snap_count: int = 100_000  # transactions between snapshots (ZooKeeper's snapCount)
    jvm_flags: tuple[str, ...] = ()  # more JVM flags for the server (SERVER_JVMFLAGS)
    settings: tuple[tuple[str, str], ...] = ()  # more zoo.cfg keys ([zookeeper.settings]), each one checked
    environment: tuple[tuple[str, str], ...] = ()  # more environment for the server's unit
    conf_dir: str = "/etc/zookeeper"  # zoo.cfg and the dynamic membership, the server's (it rewrites them)
    secret_file: Path | None = None  # on the controller: the super-user password reconfig authenticates with
    tls: TlsSpec = TlsSpec()  # the inventory's [tls]: off unless it says otherwise
    sasl: SaslSpec = SaslSpec()  # the inventory's [sasl]: off unless it says otherwise
    metrics: MetricsSpec | None = None  # the Prometheus endpoint; None: off

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(s.host for s in self.servers)

    @property
    def voters(self) -> tuple[ZkServer, ...]:
        return tuple(s for s in self.servers if not s.observer)


@dataclass(frozen=True)
class DoctorSpec:
    """The doctor's thresholds ([doctor]): the upstream monitoring guide's example alerts and the old Nagios
    plugin's values unless the inventory says otherwise. A percentage of free disk warns below its value;
    every other threshold warns (or is critical) at or above it."""

    outstanding_warning: int = 20  # outstanding requests on a server
    outstanding_critical: int = 50
    latency_avg_warning_ms: int = 500
    latency_max_warning_ms: int = 1000
    slow_fsyncs_warning: int = 1  # slow-fsync warnings in the server log within the last hour
    data_heap_warning_pct: int = 50  # approximate data size as a share of the heap (-Xmx)
    data_heap_critical_pct: int = 80
    fds_warning_pct: int = 80  # open file descriptors as a share of the limit
    fds_critical_pct: int = 95
    disk_free_warning_pct: int = 20  # free space on the data and log directories' filesystems
    disk_free_critical_pct: int = 10
    disk_days_warning: int = 7  # days until full at the last day's growth
    clock_offset_warning_ms: int = 2000  # between the fastest and the slowest server node's clock
    backup_age_warning_hours: int = 48  # the newest backup on this controller (when there is one)


@dataclass(frozen=True)
class Inventory:
    path: Path
    cluster: ClusterSpec
    hosts: dict[str, Host]
    ssh_trust: SshTrustSpec
    jdk: JdkSpec | None
    zookeeper: ZooKeeperSpec | None
    warnings: tuple[str, ...] = field(default=())
    doctor: DoctorSpec = field(default_factory=DoctorSpec)

    def host(self, name: str) -> Host:
        return self.hosts[name]
