"""Load and validate the TOML inventory before any host is contacted.

Every problem is an :class:`InventoryError` naming the file, the dotted key and
the fix. Relative paths in the inventory are resolved against the directory of
the inventory file, so a run does not depend on the current directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import InventoryError

DEFAULT_INVENTORY = Path("configs/cluster.toml")
INVENTORY_ENV = "CLUSTERCTL_INVENTORY"

KEY_TYPES = ("ed25519", "rsa")
DISTRIBUTE_MODES = ("auto", "direct", "relay", "pipeline")
JDK_PACKAGE_KINDS = {".rpm": "rpm", ".deb": "deb", ".tar.gz": "tarball", ".tgz": "tarball"}
ADMIN_SERVER_MODES = ("off", "localhost", "all")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


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


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    user: str
    port: int
    identity: Path | None
    known_hosts: Path


@dataclass(frozen=True)
class SshTrustSpec:
    key_type: str
    hosts: tuple[str, ...]


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
    heap_mb: int = 1000  # the server JVM's -Xmx (ZooKeeper's own default), via conf/java.env

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(s.host for s in self.servers)

    @property
    def voters(self) -> tuple[ZkServer, ...]:
        return tuple(s for s in self.servers if not s.observer)


@dataclass(frozen=True)
class Inventory:
    path: Path
    cluster: ClusterSpec
    hosts: dict[str, Host]
    ssh_trust: SshTrustSpec
    jdk: JdkSpec | None
    zookeeper: ZooKeeperSpec | None
    warnings: tuple[str, ...] = field(default=())

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def limited_to(self, names: list[str]) -> Inventory:
        """The same inventory with steps restricted to ``names`` (for --hosts)."""
        unknown = [n for n in names if n not in self.hosts]
        if unknown:
            raise InventoryError(self.path, "--hosts", f"unknown host {unknown[0]!r}",
                                 f"use one of {', '.join(self.hosts)}")
        keep = set(names)
        trust = replace(self.ssh_trust, hosts=tuple(h for h in self.ssh_trust.hosts if h in keep))
        jdk = self.jdk and replace(self.jdk, hosts=tuple(h for h in self.jdk.hosts if h in keep))
        return replace(self, ssh_trust=trust, jdk=jdk)


def inventory_path(option: str | os.PathLike | None) -> Path:
    """The inventory to use: the option, else $CLUSTERCTL_INVENTORY, else configs/cluster.toml."""
    if option:
        return Path(option)
    if os.environ.get(INVENTORY_ENV):
        return Path(os.environ[INVENTORY_ENV])
    return DEFAULT_INVENTORY


def load_inventory(path: str | os.PathLike) -> Inventory:
    """Read and validate an inventory; raise InventoryError on the first problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InventoryError(path, "", "file not found",
                             f"pass -i PATH or set {INVENTORY_ENV}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(path, "", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(path, "", f"not valid TOML: {exc}") from None
    return _Parser(path, raw).inventory()


class _Parser:
    def __init__(self, path: Path, raw: dict[str, Any]):
        self.path = path
        self.raw = raw
        self.base = path.parent
        self.warnings: list[str] = []

    def fail(self, key: str, problem: str, fix: str = "") -> InventoryError:
        return InventoryError(self.path, key, problem, fix)

    # -- generic checks -------------------------------------------------
    def table(self, data: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, "must be a table", f"write it as [{key}]")
        for name in data:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
                raise self.fail(f"{key}.{name}" if key else name, "unknown key", hint)
        return data

    def string(self, data: dict, key: str, name: str, default: str | None = None) -> str | None:
        value = data.get(name, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.fail(f"{key}.{name}", f"must be a non-empty string, got {value!r}")
        return value

    def integer(self, data: dict, key: str, name: str, default: int, lo: int, hi: int) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(f"{key}.{name}", f"must be a whole number from {lo} to {hi}, got {value!r}")
        return value

    def choice(self, data: dict, key: str, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = data.get(name, default)
        if value not in choices:
            raise self.fail(f"{key}.{name}", f"{value!r} is not one of {', '.join(choices)}")
        return value

    def host_list(self, data: dict, key: str, hosts: dict[str, Host], default: tuple[str, ...]) -> tuple[str, ...]:
        value = data.get("hosts", list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise self.fail(f"{key}.hosts", "must be a non-empty list of host names")
        for name in value:
            if name not in hosts:
                raise self.fail(f"{key}.hosts", f"names host {name!r}, which is not defined",
                                f"add [hosts.{name}] or remove it from the list")
        if len(set(value)) != len(value):
            raise self.fail(f"{key}.hosts", "lists a host twice")
        return tuple(value)

    def local_path(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self.base / path).resolve()

    def address(self, key: str, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            if not re.fullmatch(r"[\d.]+", value) and _HOSTNAME.match(value.split(".")[0]) and all(_HOSTNAME.match(p) for p in value.split(".")):
                return value
            raise self.fail(key, f"{value!r} is neither an IP address nor a host name") from None

    def identity(self, key: str, value: str | None) -> Path | None:
        if value is None:
            return None
        path = self.local_path(value)
        if not os.access(path, os.R_OK) or not path.is_file():
            raise self.fail(key, f"identity file {path} is missing or unreadable",
                            "point it at a private key, or remove the key to use ssh-agent / ssh_config")
        return path

    # -- sections -------------------------------------------------------
    def inventory(self) -> Inventory:
        self.table(self.raw, "", ("cluster", "hosts", "ssh_trust", "jdk", "zookeeper"))
        cluster = self.cluster(self.raw.get("cluster", {}))
        hosts = self.hosts(self.raw.get("hosts"), cluster)
        trust = self.ssh_trust(self.raw.get("ssh_trust", {}), hosts)
        jdk = self.jdk(self.raw["jdk"], hosts) if "jdk" in self.raw else None
        zk = self.zookeeper(self.raw["zookeeper"], hosts) if "zookeeper" in self.raw else None
        return Inventory(self.path, cluster, hosts, trust, jdk, zk, tuple(self.warnings))

    def cluster(self, data: Any) -> ClusterSpec:
        data = self.table(data, "cluster", ("name", "user", "port", "identity", "known_hosts"))
        name = self.string(data, "cluster", "name", "cluster")
        user = self.string(data, "cluster", "user", "root")
        port = self.integer(data, "cluster", "port", 22, 1, 65535)
        identity = self.identity("cluster.identity", self.string(data, "cluster", "identity"))
        known_hosts = self.local_path(self.string(data, "cluster", "known_hosts", "~/.ssh/known_hosts"))
        return ClusterSpec(name, user, port, identity, known_hosts)

    def hosts(self, data: Any, cluster: ClusterSpec) -> dict[str, Host]:
        if not data:
            raise self.fail("hosts", "no hosts defined", "add at least one [hosts.NAME] table with an address")
        data = self.table(data, "hosts", tuple(data))
        hosts: dict[str, Host] = {}
        seen: dict[tuple[str, int], str] = {}
        for name, spec in data.items():
            key = f"hosts.{name}"
            if not _HOSTNAME.match(name):
                raise self.fail(key, "host names may hold letters, digits and '-' only")
            spec = self.table(spec, key, ("address", "ssh_address", "user", "port", "identity",
                                          "interface", "prefix", "gateway", "dns"))
            if "address" not in spec:
                raise self.fail(f"{key}.address", "missing", f"add address = \"IP\" under [{key}]")
            static = self.address(f"{key}.address", self.string(spec, key, "address"))
            connect = static
            if "ssh_address" in spec:
                connect = self.address(f"{key}.ssh_address", self.string(spec, key, "ssh_address"))
            port = self.integer(spec, key, "port", cluster.port, 1, 65535)
            if (connect, port) in seen:
                raise self.fail(f"{key}.address", f"{connect} is also the address of {seen[connect, port]}",
                                "give every host its own address")
            seen[connect, port] = name
            dns = spec.get("dns", [])
            if not isinstance(dns, list):
                raise self.fail(f"{key}.dns", "must be a list of addresses")
            hosts[name] = Host(
                name=name,
                address=connect,
                user=self.string(spec, key, "user", cluster.user),
                port=port,
                identity=self.identity(f"{key}.identity", spec.get("identity")) or cluster.identity,
                static_address=static,
                interface=self.string(spec, key, "interface"),
                prefix=self.integer(spec, key, "prefix", 24, 1, 128) if "prefix" in spec else None,
                gateway=self.address(f"{key}.gateway", spec["gateway"]) if "gateway" in spec else None,
                dns=tuple(self.address(f"{key}.dns", d) for d in dns),
            )
        return hosts

    def ssh_trust(self, data: Any, hosts: dict[str, Host]) -> SshTrustSpec:
        data = self.table(data, "ssh_trust", ("key_type", "hosts"))
        if data.get("key_type") == "dsa":
            raise self.fail("ssh_trust.key_type", "dsa is refused: OpenSSH disables DSA keys since 7.0 "
                            "and paramiko 4+ cannot load them", 'use key_type = "ed25519" (or "rsa")')
        key_type = self.choice(data, "ssh_trust", "key_type", "ed25519", KEY_TYPES)
        return SshTrustSpec(key_type, self.host_list(data, "ssh_trust", hosts, tuple(hosts)))

    def jdk(self, data: Any, hosts: dict[str, Host]) -> JdkSpec:
        data = self.table(data, "jdk", ("package", "hosts", "stage_dir", "java_home", "distribute"))
        if "package" not in data:
            raise self.fail("jdk.package", "missing", "name a local .rpm, .deb or .tar.gz JDK package")
        package = self.local_path(self.string(data, "jdk", "package"))
        kind = next((k for suffix, k in JDK_PACKAGE_KINDS.items() if package.name.endswith(suffix)), None)
        if kind is None:
            raise self.fail("jdk.package", f"{package.name} is not a .rpm, .deb, .tar.gz or .tgz package")
        self.readable_file("jdk.package", package)
        return JdkSpec(
            package=package,
            kind=kind,
            hosts=self.host_list(data, "jdk", hosts, tuple(hosts)),
            stage_dir=self.remote_dir(data, "jdk", "stage_dir", "/opt/apps"),
            java_home=self.remote_dir(data, "jdk", "java_home", "/usr/java/default"),
            distribute=self.choice(data, "jdk", "distribute", "auto", DISTRIBUTE_MODES),
        )

    def readable_file(self, key: str, path: Path) -> None:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise self.fail(key, f"{path} does not exist or is unreadable",
                            "build it with 'clusterctl artifacts' or point the key at your package")

    def remote_dir(self, data: dict, key: str, name: str, default: str) -> str:
        value = self.string(data, key, name, default)
        if not value.startswith("/") or any(c in value for c in "'\"$`\\\n ") or value == "/":
            raise self.fail(f"{key}.{name}", f"{value!r} must be an absolute path without quotes, spaces or $")
        return value.rstrip("/")

    def zookeeper(self, data: Any, hosts: dict[str, Host]) -> ZooKeeperSpec:
        key = "zookeeper"
        data = self.table(data, key, (
            "package", "install_dir", "data_dir", "data_log_dir", "client_port", "quorum_port",
            "election_port", "tick_time", "init_limit", "sync_limit", "servers", "admin_server",
            "admin_port", "four_letter_words", "distribute", "heap_mb"))
        if "package" not in data:
            raise self.fail("zookeeper.package", "missing", "name the Apache ZooKeeper -bin.tar.gz release")
        package = self.local_path(self.string(data, key, "package"))
        if not package.name.endswith((".tar.gz", ".tgz")):
            raise self.fail("zookeeper.package", f"{package.name} is not a .tar.gz release tarball")
        self.readable_file("zookeeper.package", package)
        ports = {n: self.integer(data, key, n, d, 1, 65535) for n, d in
                 (("client_port", 2181), ("quorum_port", 2888), ("election_port", 3888), ("admin_port", 8080))}
        if len(set(ports.values())) != len(ports):
            raise self.fail("zookeeper", f"ports must differ, got {ports}")
        servers = self.zk_servers(data.get("servers"), hosts)
        words = data.get("four_letter_words", ["srvr", "mntr", "ruok", "stat", "conf", "isro"])
        if not isinstance(words, list) or not all(isinstance(w, str) and re.fullmatch(r"[a-z]{4}|\*", w)
                                                  for w in words):
            raise self.fail("zookeeper.four_letter_words", "must be a list of four-letter words like \"srvr\"")
        if "srvr" not in words and "*" not in words:
            raise self.fail("zookeeper.four_letter_words", "must allow \"srvr\": zk status needs it")
        return ZooKeeperSpec(
            package=package,
            install_dir=self.remote_dir(data, key, "install_dir", "/opt"),
            data_dir=self.remote_dir(data, key, "data_dir", "/var/lib/zookeeper"),
            data_log_dir=self.remote_dir(data, key, "data_log_dir", "/var/lib/zookeeper/datalog"),
            client_port=ports["client_port"],
            quorum_port=ports["quorum_port"],
            election_port=ports["election_port"],
            tick_time=self.integer(data, key, "tick_time", 2000, 1, 600_000),
            init_limit=self.integer(data, key, "init_limit", 5, 1, 1000),
            sync_limit=self.integer(data, key, "sync_limit", 2, 1, 1000),
            servers=servers,
            admin_server=self.choice(data, key, "admin_server", "off", ADMIN_SERVER_MODES),
            admin_port=ports["admin_port"],
            four_letter_words=tuple(words),
            distribute=self.choice(data, key, "distribute", "auto", DISTRIBUTE_MODES),
            heap_mb=self.integer(data, key, "heap_mb", 1000, 16, 1_048_576),
        )

    def zk_servers(self, data: Any, hosts: dict[str, Host]) -> tuple[ZkServer, ...]:
        key = "zookeeper.servers"
        if not isinstance(data, dict) or not data:
            raise self.fail(key, "missing or empty", "add [zookeeper.servers] with host = myid lines")
        servers = []
        ids: dict[int, str] = {}
        for host, spec in data.items():
            if host not in hosts:
                raise self.fail(f"{key}.{host}", "is not a defined host", f"add [hosts.{host}] or remove it")
            if isinstance(spec, int) and not isinstance(spec, bool):
                spec = {"id": spec}
            spec = self.table(spec, f"{key}.{host}", ("id", "observer"))
            if "id" not in spec:
                raise self.fail(f"{key}.{host}.id", "missing", "give each server a myid from 1 to 255")
            sid = self.integer(spec, f"{key}.{host}", "id", 0, 1, 255)
            if sid in ids:
                raise self.fail(f"{key}.{host}", f"myid {sid} is already used by {ids[sid]}", "ids must be unique")
            ids[sid] = host
            observer = spec.get("observer", False)
            if not isinstance(observer, bool):
                raise self.fail(f"{key}.{host}.observer", "must be true or false")
            servers.append(ZkServer(host, sid, observer))
        voters = [s for s in servers if not s.observer]
        if not voters:
            raise self.fail(key, "has no voter (every server is an observer)", "make at least one server a voter")
        if len(voters) % 2 == 0:
            from .quorum import even_voters_warning
            self.warnings.append(f"{self.path}: {key}: {even_voters_warning(len(voters))}")
        return tuple(servers)
