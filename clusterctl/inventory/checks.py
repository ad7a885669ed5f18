"""The checks of a parsed inventory: every key validated, defaulted, resolved; the first problem one line.

Relative paths in the inventory are resolved against the directory of the
inventory file, so a run does not depend on the current directory.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import InventoryError
from ..render.zk_settings import property_problem, setting_problem
from .model import (ADMIN_SERVER_MODES, BECOME_METHODS, DISTRIBUTE_MODES, JDK_PACKAGE_KINDS, KEY_TYPES, RELEASE_KINDS,
                    SASL_CLIENT_MODES, SASL_RESERVED_USERS, TLS_CLIENT_AUTH, TLS_CLIENT_MODES, ClusterSpec, DoctorSpec,
                    Host, Inventory, JdkSpec, Jump, MetricsSpec, OWN_ADDRESS, SaslSpec, SshTrustSpec, TlsSpec, ZkServer,
                    ZooKeeperSpec)
from .one_line import join_key, key_part, one_line, printable, shown
from .values import HOSTNAME, canonical_ip, file_kind, is_host_name, private_key_problem

# Patterns are used with fullmatch and spelled in ASCII, as in values.py.
# Remote directories reach shell scripts, PATH and unit files: no quotes, spaces,
# $, ':' or '%', no '.' or '..' components, none that reads as an option.
_REMOTE_DIR = re.compile(r"(?:/(?!\.\.?(?:/|\Z))(?!-)[A-Za-z0-9._+@-]+)+/?")
_FOUR_LETTER_WORD = re.compile(r"[a-z]{4}|\*")
_SETTING_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # one zoo.cfg key: no '=', ':' or spaces
_JVM_FLAG = re.compile(r"-[A-Za-z0-9:+_.=/,@-]+")  # one word: it is joined into SERVER_JVMFLAGS with spaces
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


@dataclass(frozen=True)
class _Shape:
    """What a word-like value must look like, said the way an error tells it."""

    pattern: re.Pattern
    description: str
    example: str


_LOGIN_NAME = _Shape(re.compile(r"(?=.{1,32}\Z)[a-z_][a-z0-9_-]*\$?"),  # POSIX portable user names
                     "a login name (lower-case letters, digits, '_' and '-', a letter or '_' first, at most 32)",
                     "root")
_INTERFACE = _Shape(re.compile(r"(?!-)(?!\.\.?\Z)[A-Za-z0-9_.:-]{1,15}"),  # Linux's rules, minus shell specials
                    "an interface name (1 to 15 of letters, digits, '_', '.', ':' and '-', not '-' first)", "eth0")
_CLUSTER_NAME = _Shape(re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"),  # it marks blocks in /etc/hosts, known_hosts
                       "a cluster name (letters, digits, '_', '.' and '-', a letter or digit first, at most 63)",
                       "seed")
_SASL_USER = _Shape(re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}"),  # a JAAS option name user_NAME, a file name
                    "a SASL user name (letters, digits, '_' and '-', a letter first, at most 64)", "app")
_LONGEST_TEXT = 4096  # PATH_MAX: no inventory value needs more

# A critical threshold and the warning it must lie past.
_DOCTOR_PAIRS = (("outstanding_warning", "outstanding_critical"), ("data_heap_warning_pct", "data_heap_critical_pct"),
                 ("fds_warning_pct", "fds_critical_pct"), ("disk_free_warning_pct", "disk_free_critical_pct"))

_HOST_KEYS = frozenset(("address", "ssh_address", "user", "port", "identity", "interface", "prefix", "gateway", "dns",
                        "become", "jump"))


class Checker:
    """Checks one parsed inventory, section by section; :meth:`inventory` is the result or the first problem."""

    cluster_given: frozenset[str] = frozenset()

    def __init__(self, path: Path, raw: dict[str, Any]):
        self.path = path
        self.raw = raw
        self.base = path.parent
        self.warnings: list[str] = []
        self.private_keys: set[Path] = set()  # each identity file is read once, not once per host
        self.known_ips: dict[str, str] = {}  # gateways and DNS servers repeat on every host: checked once

    def fail(self, key: str, problem: str, fix: str = "") -> InventoryError:
        return InventoryError(printable(self.path), key, printable(problem), printable(fix))

    # -- generic checks -------------------------------------------------
    def table(self, data: Any, key: str, allowed: frozenset[str], fix: str = "") -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table, got {shown(data)}", fix or f"write it as [{key}]")
        if not allowed.issuperset(data):
            name = next(n for n in data if n not in allowed)
            close = difflib.get_close_matches(name, sorted(allowed), n=1) if len(name) <= 60 else []
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(sorted(allowed))}"
            raise self.fail(join_key(key, name), "unknown key", hint)
        return data

    def text(self, key: str, value: Any) -> str:
        """``value`` if it is a non-empty string of printable characters."""
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {shown(value)}", 'quote it: "..."')
        if not value:
            raise self.fail(key, "must not be empty", "give it a value or remove the key")
        if len(value) > _LONGEST_TEXT:
            raise self.fail(key, f"is {len(value)} characters long, more than {_LONGEST_TEXT}", "shorten it")
        if not value.isprintable():
            odd = next(c for c in value if not c.isprintable())
            raise self.fail(key, f"holds the control or invisible character {odd!r} ({shown(value)})", "remove it")
        return value

    def word(self, data: dict, key: str, name: str, default: str | None, shape: _Shape) -> str | None:
        """``data[name]`` if it has ``shape``, else ``default`` when absent."""
        if name not in data:
            return default
        value = self.text(f"{key}.{name}", data[name])
        if not shape.pattern.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"{shown(value)} is not {shape.description}",
                            f'write {name} = "{shape.example}"')
        return value

    def integer(self, data: dict, key: str, name: str, default: int, lo: int, hi: int) -> int:
        if name not in data:
            return default
        value = data[name]
        if type(value) is not int or not lo <= value <= hi:
            raise self.fail(f"{key}.{name}", f"must be a whole number from {lo} to {hi}, got {shown(value)}",
                            f"write {name} = {default}" if lo <= default <= hi else f"write {name} = {lo}")
        return value

    def boolean(self, data: dict, key: str, name: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, got {shown(value)}", f"write {name} = true")
        return value

    def choice(self, data: dict, key: str, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or value not in choices:
            raise self.fail(f"{key}.{name}", f"{shown(value)} is not one of {', '.join(choices)}",
                            f'write {name} = "{default}"')
        return value

    def host_list(self, data: dict, key: str, hosts: dict[str, Host]) -> tuple[str, ...]:
        """The hosts a step works on: data["hosts"], each a defined host once, else every host."""
        if "hosts" not in data:
            return tuple(hosts)
        value = data["hosts"]
        if not isinstance(value, list) or not value:
            raise self.fail(f"{key}.hosts", f"must be a non-empty array of host names, got {shown(value)}",
                            'write hosts = ["node1", ...] or remove the key for every host')
        listed: set[str] = set()
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in hosts:
                raise self.fail(f"{key}.hosts", f"names host {shown(name)} (item {i + 1}), which is not defined",
                                f"add [hosts.{name}] or remove it from the list" if isinstance(name, str)
                                else "list host names as strings")
            if name in listed:
                raise self.fail(f"{key}.hosts", f"lists host {name!r} twice", "list each host once")
            listed.add(name)
        return tuple(value)

    def local_path(self, key: str, value: Any) -> Path:
        """A controller path: ~ expanded, relative to the inventory's directory."""
        text = self.text(key, value)
        try:
            path = Path(os.path.expanduser(text))
            return path if path.is_absolute() else (self.base / path).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable directory on the way
            raise self.fail(key, f"cannot resolve {shown(text)}: {one_line(exc)}", "point it at a real path") from None

    def address(self, key: str, value: Any) -> str:
        """An IP address (canonical) or a host name to connect to."""
        text = self.text(key, value)
        ip = canonical_ip(text)
        if ip is not None:
            return ip
        if not is_host_name(text):
            raise self.fail(key, f"{shown(text)} is neither an IP address nor a host name",
                            'write an address like "192.168.10.11" or a name like "node1.example.com"')
        return text

    def ip(self, key: str, value: Any, fix: str) -> str:
        if type(value) is str and value in self.known_ips:
            return self.known_ips[value]
        ip = canonical_ip(self.text(key, value))
        if ip is None:
            raise self.fail(key, f"{shown(value)} is not an IP address", fix)
        self.known_ips[value] = ip
        return ip

    def identity(self, key: str, value: Any) -> Path:
        path = self.local_path(key, value)
        if path not in self.private_keys:
            problem = private_key_problem(path)
            if problem:
                raise self.fail(key, *problem)
            self.private_keys.add(path)
        return path

    def known_hosts(self, key: str, value: Any) -> Path:
        """Where to pin host keys: a readable file, or one that can be created (its parents are made)."""
        path = self.local_path(key, value)
        fix = "point it at a file; clusterctl creates it and its directory if missing"
        kind = file_kind(path)
        if kind == "a file":
            if not os.access(path, os.R_OK | os.W_OK):
                raise self.fail(key, f"{path} is not readable and writable", "fix its permissions")
            return path
        if kind != "missing":
            raise self.fail(key, f"{path} is {kind}", fix)
        for parent in path.parents:
            kind = file_kind(parent)
            if kind == "a directory":
                return path
            if kind != "missing":
                raise self.fail(key, f"{path} cannot be created: {parent} is {kind}", fix)
        return path

    def package(self, data: dict, key: str, kinds: dict[str, str], missing_fix: str) -> tuple[Path, str]:
        """The local package ``data`` names and its kind (by suffix).

        The file itself is not read here: a command that sends or compares it checks it then
        (:mod:`clusterctl.packages`), so status and the other commands work without it.
        """
        dotted = f"{key}.package"
        if "package" not in data:
            raise self.fail(dotted, "missing", missing_fix)
        path = self.local_path(dotted, data["package"])
        kind = next((k for suffix, k in kinds.items() if path.name.endswith(suffix)), None)
        if kind is None:
            raise self.fail(dotted, f"{shown(path.name)} is not a {', '.join(kinds)} package", missing_fix)
        return path, kind

    def remote_dir(self, data: dict, key: str, name: str, default: str) -> str:
        if name not in data:
            return default
        value = self.text(f"{key}.{name}", data[name])
        if not _REMOTE_DIR.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"{shown(value)} must be an absolute path of letters, digits and "
                            "._+@- without quotes, spaces, $ or '..'", f'write {name} = "{default}"')
        return value.rstrip("/")

    # -- sections -------------------------------------------------------
    def inventory(self) -> Inventory:
        self.table(self.raw, "", frozenset(("cluster", "hosts", "ssh_trust", "jdk", "zookeeper", "tls", "sasl",
                                          "doctor")))
        cluster = self.cluster(self.raw.get("cluster", {}))
        hosts = self.hosts(self.raw.get("hosts"), cluster)
        trust = self.ssh_trust(self.raw.get("ssh_trust", {}), hosts)
        jdk = self.jdk(self.raw["jdk"], hosts) if "jdk" in self.raw else None
        zk = self.zookeeper(self.raw["zookeeper"], hosts) if "zookeeper" in self.raw else None
        if "tls" in self.raw:
            if zk is None:
                raise self.fail("tls", "secures the ZooKeeper ensemble, and there is no [zookeeper] section",
                                "add [zookeeper] or remove [tls]")
            zk = replace(zk, tls=self.tls(self.raw["tls"], zk))
        if "sasl" in self.raw:
            if zk is None:
                raise self.fail("sasl", "authenticates to the ZooKeeper ensemble, and there is no [zookeeper] section",
                                "add [zookeeper] or remove [sasl]")
            zk = replace(zk, sasl=self.sasl(self.raw["sasl"]))
        doctor = self.doctor(self.raw.get("doctor", {}))
        return Inventory(self.path, cluster, hosts, trust, jdk, zk, tuple(self.warnings), doctor)

    def cluster(self, data: Any) -> ClusterSpec:
        key = "cluster"
        data = self.table(data, key, frozenset(("name", "user", "port", "identity", "known_hosts", "become", "jump")))
        name = self.word(data, key, "name", "cluster", _CLUSTER_NAME)
        user = self.word(data, key, "user", "root", _LOGIN_NAME)
        port = self.integer(data, key, "port", 22, 1, 65535)
        identity = self.identity("cluster.identity", data["identity"]) if "identity" in data else None
        known_hosts = self.known_hosts("cluster.known_hosts", data.get("known_hosts", "~/.ssh/known_hosts"))
        become = self.choice(data, key, "become", "sudo", BECOME_METHODS) if "become" in data else None
        jump = self.jump(f"{key}.jump", data["jump"]) if "jump" in data else ()
        self.cluster_given = frozenset(k for k in ("user", "port", "identity", "become") if k in data)
        return ClusterSpec(name, user, port, identity, known_hosts, become, jump, "jump" in data)

    def jump(self, key: str, value: Any) -> tuple[Jump, ...]:
        """``[user@]host[:port]``, several joined by commas (a chain), or "none" (go straight there)."""
        text = self.text(key, value)
        if text == "none":
            return ()
        hops = []
        for part in text.split(","):
            user, _, rest = part.rpartition("@")
            host, port = rest, 22
            if rest.count(":") == 1:
                host, _, port_text = rest.partition(":")
                if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                    raise self.fail(key, f"{shown(part)} has no port from 1 to 65535 after ':'",
                                    'write jump = "user@bastion:2222"')
                port = int(port_text)
            if user and not _LOGIN_NAME.pattern.fullmatch(user):
                raise self.fail(key, f"{shown(user)} is not a login name", 'write jump = "user@bastion"')
            if canonical_ip(host.strip("[]")) is None and not is_host_name(host):
                raise self.fail(key, f"{shown(host)} is neither an IP address nor a host name",
                                'write jump = "user@bastion.example.com:22", or "none"')
            hops.append(Jump(host.strip("[]"), user or None, port))
        return tuple(hops)

    def hosts(self, data: Any, cluster: ClusterSpec) -> dict[str, Host]:
        if not isinstance(data, dict) or not data:
            raise self.fail("hosts", "no hosts defined" if data in (None, {}) else
                            f"must be a table of hosts, got {shown(data)}",
                            "add at least one [hosts.NAME] table with an address")
        hosts: dict[str, Host] = {}
        # dicts keyed by what must be unique keep the checks linear in the number of hosts
        folded_names: dict[str, str] = {}
        connect_addresses: dict[tuple[str, int], str] = {}
        configured_addresses: dict[str, str] = {}
        for name, spec in data.items():
            host = self.host(name, spec, cluster)
            key = f"hosts.{name}"
            if not name.islower():  # only a name with capitals can clash with another by case
                folded = name.lower()
                other = folded if folded != name and folded in data else folded_names.setdefault(folded, name)
                if other != name:
                    raise self.fail(key, f"is the same host name as {other} (host names ignore case)", "rename one")
            if host.interface:
                other = configured_addresses.setdefault(host.static_address, name)
                if other != name:
                    raise self.fail(f"{key}.address", f"{host.static_address} is also the address of {other}",
                                    "give every host its own address")
            other = connect_addresses.setdefault((host.address.lower(), host.port), name)
            if other != name:
                where = "ssh_address" if "ssh_address" in spec else "address"
                raise self.fail(f"{key}.{where}", f"{host.address} is also the address of {other}"
                                + (f" (port {host.port})" if host.port != 22 else ""),
                                "give every host its own address")
            hosts[name] = host
        return hosts

    def host(self, name: str, spec: Any, cluster: ClusterSpec) -> Host:
        if not HOSTNAME.fullmatch(name):
            raise self.fail(f"hosts.{key_part(name)}", "host names hold letters, digits and '-' "
                            "(not first or last), at most 63", "rename the host, e.g. node1")
        key = f"hosts.{name}"
        spec = self.table(spec, key, _HOST_KEYS, f'write it as [{key}] with address = "IP"')
        if "address" not in spec:
            raise self.fail(f"{key}.address", "missing", f'add address = "IP" under [{key}]')
        static = self.address(f"{key}.address", spec["address"])
        connect = self.address(f"{key}.ssh_address", spec["ssh_address"]) if "ssh_address" in spec else static
        interface = self.word(spec, key, "interface", None, _INTERFACE)
        prefix, gateway, dns = self.network(spec, key, static, interface)
        user = self.word(spec, key, "user", cluster.user, _LOGIN_NAME)
        become = self.choice(spec, key, "become", cluster.become or ("none" if user == "root" else "sudo"),
                             BECOME_METHODS)
        jump, jump_given = cluster.jump, cluster.jump_given
        if "jump" in spec:
            jump, jump_given = self.jump(f"{key}.jump", spec["jump"]), True
        return Host(
            name=name,
            address=connect,
            user=user,
            port=self.integer(spec, key, "port", cluster.port, 1, 65535),
            identity=self.identity(f"{key}.identity", spec["identity"]) if "identity" in spec else cluster.identity,
            static_address=static,
            interface=interface,
            prefix=prefix,
            gateway=gateway,
            dns=dns,
            become=become,
            jump=jump,
            jump_given=jump_given,
            given=self.cluster_given | frozenset(k for k in ("user", "port", "identity", "become") if k in spec),
        )

    def network(self, spec: dict, key: str, static: str, interface: str | None
                ) -> tuple[int | None, str | None, tuple[str, ...]]:
        """prefix, gateway and dns of a host, checked against the address family of ``static``."""
        if not interface and "prefix" not in spec and "gateway" not in spec and "dns" not in spec:
            return None, None, ()
        ipv6 = ":" in static
        family = "IPv6" if ipv6 else "IPv4"
        if (interface or "prefix" in spec or "gateway" in spec) and canonical_ip(static) is None:
            raise self.fail(f"{key}.address", f"must be an IP address for the network step, got {shown(static)}",
                            "write the address to configure, and ssh_address for the name to connect to")
        prefix = self.integer(spec, key, "prefix", 24, 1, 128 if ipv6 else 32) if "prefix" in spec else None
        gateway = None
        if "gateway" in spec:
            gateway = self.ip(f"{key}.gateway", spec["gateway"], 'write gateway = "IP" of the router')
            if (":" in gateway) != ipv6:
                raise self.fail(f"{key}.gateway", f"{gateway} is not an {family} address like {static}",
                                f"give an {family} gateway")
        dns = spec.get("dns", [])
        if not isinstance(dns, list):
            raise self.fail(f"{key}.dns", f"must be an array of IP addresses, got {shown(dns)}",
                            'write dns = ["192.168.10.1"]')
        servers = tuple(self.ip(f"{key}.dns", d, "name DNS servers by IP address, like \"192.168.10.1\"")
                        for d in dns)
        if len(set(servers)) != len(servers):
            raise self.fail(f"{key}.dns", "lists a server twice", "list each server once")
        return prefix, gateway, servers

    def ssh_trust(self, data: Any, hosts: dict[str, Host]) -> SshTrustSpec:
        data = self.table(data, "ssh_trust", frozenset(("key_type", "hosts", "user")))
        if data.get("key_type") == "dsa":
            raise self.fail("ssh_trust.key_type", "dsa is refused: OpenSSH disables DSA keys since 7.0 "
                            "and paramiko 4+ cannot load them", 'use key_type = "ed25519" (or "rsa")')
        key_type = self.choice(data, "ssh_trust", "key_type", "ed25519", KEY_TYPES)
        user = self.word(data, "ssh_trust", "user", None, _LOGIN_NAME)
        return SshTrustSpec(key_type, self.host_list(data, "ssh_trust", hosts), user)

    def jdk(self, data: Any, hosts: dict[str, Host]) -> JdkSpec:
        data = self.table(data, "jdk", frozenset(("package", "hosts", "stage_dir", "java_home", "distribute")))
        package, kind = self.package(data, "jdk", JDK_PACKAGE_KINDS, "name a local .rpm, .deb or .tar.gz JDK package")
        return JdkSpec(
            package=package,
            kind=kind,
            hosts=self.host_list(data, "jdk", hosts),
            stage_dir=self.remote_dir(data, "jdk", "stage_dir", "/opt/apps"),
            java_home=self.remote_dir(data, "jdk", "java_home", "/usr/java/default"),
            distribute=self.choice(data, "jdk", "distribute", "auto", DISTRIBUTE_MODES),
        )

    def zookeeper(self, data: Any, hosts: dict[str, Host]) -> ZooKeeperSpec:
        key = "zookeeper"
        data = self.table(data, key, frozenset((
            "package", "install_dir", "data_dir", "data_log_dir", "client_port", "quorum_port",
            "election_port", "tick_time", "init_limit", "sync_limit", "servers", "admin_server",
            "admin_port", "four_letter_words", "distribute", "heap_mb", "user", "group", "log_dir",
            "snap_retain_count", "purge_interval", "snap_count", "jvm_flags", "environment", "conf_dir",
            "secret_file", "metrics", "settings")))
        package, _ = self.package(data, key, RELEASE_KINDS, "name the Apache ZooKeeper -bin.tar.gz release")
        ports = {n: self.integer(data, key, n, d, 1, 65535) for n, d in
                 (("client_port", 2181), ("quorum_port", 2888), ("election_port", 3888), ("admin_port", 8080))}
        if len(set(ports.values())) != len(ports):
            raise self.fail("zookeeper", f"ports must differ, got {ports}", "give each port its own number")
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
            servers=self.zk_servers(data.get("servers"), hosts),
            admin_server=self.choice(data, key, "admin_server", "off", ADMIN_SERVER_MODES),
            admin_port=ports["admin_port"],
            four_letter_words=self.four_letter_words(data),
            distribute=self.choice(data, key, "distribute", "auto", DISTRIBUTE_MODES),
            heap_mb=self.integer(data, key, "heap_mb", 1000, 16, 1_048_576),
            user=self.service_account(data, key, "user"),
            group=self.service_account(data, key, "group"),
            log_dir=self.remote_dir(data, key, "log_dir", "/var/log/zookeeper"),
            snap_retain_count=self.integer(data, key, "snap_retain_count", 3, 3, 10_000),
            purge_interval=self.purge_interval(data, key),
            snap_count=self.integer(data, key, "snap_count", 100_000, 2, 100_000_000),
            jvm_flags=self.jvm_flags(data, key),
            settings=self.zk_settings(data.get("settings", {})),
            environment=self.environment(data, key),
            conf_dir=self.remote_dir(data, key, "conf_dir", "/etc/zookeeper"),
            secret_file=self.local_path(f"{key}.secret_file", data["secret_file"]) if "secret_file" in data else None,
            metrics=self.metrics(data["metrics"], ports) if "metrics" in data else None,
        )

    def metrics(self, data: Any, ports: dict[str, int]) -> MetricsSpec:
        """ZooKeeper's Prometheus endpoint: a port of its own and the address it binds to, named (never a
        default: the endpoint has no authentication)."""
        key = "zookeeper.metrics"
        example = 'write metrics = { port = 7000, host = "address" }'
        data = self.table(data, key, frozenset(("port", "host")), example)
        port = self.integer(data, key, "port", 7000, 1, 65535)
        clash = next((name for name, p in ports.items() if p == port), None)
        if clash:
            raise self.fail(f"{key}.port", f"{port} is also [zookeeper] {clash}", "give the metrics endpoint its "
                            "own port")
        if "host" not in data:
            raise self.fail(f"{key}.host", "missing: the endpoint has no authentication, so it binds only where "
                            "you say", f'write host = "{OWN_ADDRESS}" (each server\'s own address) or "127.0.0.1"')
        host = self.text(f"{key}.host", data["host"])
        if host != OWN_ADDRESS:
            ip = canonical_ip(host)
            if ip is None:
                raise self.fail(f"{key}.host", f"{shown(host)} is neither an IP address nor \"{OWN_ADDRESS}\"",
                                f'write host = "{OWN_ADDRESS}" (each server\'s own address) or an IP address')
            host = ip
        if host in ("0.0.0.0", "::"):
            self.warnings.append(f"{self.path}: {key}.host: {host} opens the unauthenticated metrics "
                                 f"endpoint on every interface of every server")
        return MetricsSpec(port=port, host=host)

    def tls(self, data: Any, zk: ZooKeeperSpec) -> TlsSpec:
        key = "tls"
        data = self.table(data, key, frozenset(("quorum", "client", "client_auth", "ca", "days", "renew_days",
                                                "secure_client_port")))
        ca_cert = ca_key = None
        ca = data.get("ca", "managed")
        if isinstance(ca, dict):
            ca = self.table(ca, f"{key}.ca", frozenset(("cert", "key")), 'write ca = { cert = "ca.crt", key = "ca.key" }')
            for name in ("cert", "key"):
                if name not in ca:
                    raise self.fail(f"{key}.ca.{name}", "missing", "name your CA's certificate and its key (PEM)")
            ca_cert = self.local_path(f"{key}.ca.cert", ca["cert"])
            ca_key = self.local_path(f"{key}.ca.key", ca["key"])
            for where, path in ((f"{key}.ca.cert", ca_cert), (f"{key}.ca.key", ca_key)):
                if not path.is_file():
                    raise self.fail(where, f"{path} is not a file on this controller", "give the path of a PEM file")
        elif ca != "managed":
            raise self.fail(f"{key}.ca", f"{shown(ca)} is neither \"managed\" nor a table",
                            'write ca = "managed", or ca = { cert = "ca.crt", key = "ca.key" }')
        days = self.integer(data, key, "days", 397, 2, 3650)
        renew_days = self.integer(data, key, "renew_days", 30, 1, 3649)
        if renew_days >= days:
            raise self.fail(f"{key}.renew_days", f"{renew_days} is not fewer than days ({days}): every certificate "
                            f"would be renewed at once", f"write renew_days = {min(30, days - 1)}")
        port = self.integer(data, key, "secure_client_port", 2281, 1, 65535)
        taken = {"client_port": zk.client_port, "quorum_port": zk.quorum_port, "election_port": zk.election_port,
                 "admin_port": zk.admin_port, "metrics port": zk.metrics.port if zk.metrics else None}
        clash = next((name for name, p in taken.items() if p == port), None)
        if clash:
            raise self.fail(f"{key}.secure_client_port", f"{port} is also [zookeeper] {clash}",
                            "give the TLS client port its own number")
        return TlsSpec(quorum=self.boolean(data, key, "quorum", False),
                       client=self.choice(data, key, "client", "off", TLS_CLIENT_MODES),
                       client_auth=self.choice(data, key, "client_auth", "need", TLS_CLIENT_AUTH),
                       ca_cert=ca_cert, ca_key=ca_key, days=days, renew_days=renew_days, secure_client_port=port)

    def sasl(self, data: Any) -> SaslSpec:
        key = "sasl"
        data = self.table(data, key, frozenset(("quorum", "client", "users")))
        users = data.get("users", [])
        if isinstance(users, dict):  # [sasl.users] app = {}: a table per user, for options to come
            for name, options in users.items():
                if options != {}:
                    raise self.fail(join_key(f"{key}.users", name), f"takes no settings, got {shown(options)}: its "
                                    f"password is made and kept by clusterctl", f"write {key_part(name)} = {{}}")
            users = list(users)
        if not isinstance(users, list):
            raise self.fail(f"{key}.users", f"must be a list of user names, got {shown(users)}", 'write users = ["app"]')
        names: list[str] = []
        for i, name in enumerate(users):
            where = f"{key}.users[{i}]"
            value = self.text(where, name)
            if not _SASL_USER.pattern.fullmatch(value):
                raise self.fail(where, f"{shown(value)} is not {_SASL_USER.description}", 'write users = ["app"]')
            if value in SASL_RESERVED_USERS:
                raise self.fail(where, f"{value!r} is clusterctl's own", "give the client user another name")
            if value in names:
                raise self.fail(where, f"{value!r} is listed twice", "list each user once")
            names.append(value)
        client = self.choice(data, key, "client", "optional" if names else "off", SASL_CLIENT_MODES)
        if names and client == "off":
            raise self.fail(f"{key}.client", "is \"off\", yet [sasl] users lists client users they could not log in as",
                            'write client = "optional" (or "required"), or remove users')
        return SaslSpec(quorum=self.boolean(data, key, "quorum", False), client=client, users=tuple(names))

    def doctor(self, data: Any) -> DoctorSpec:
        """The doctor's thresholds: each a whole number, a critical one past its warning."""
        key = "doctor"
        defaults = DoctorSpec()
        names = [f.name for f in fields(DoctorSpec)]
        data = self.table(data, key, frozenset(names))
        values = {n: self.integer(data, key, n, getattr(defaults, n), 0 if n.endswith("_pct") else 1,
                                  100 if n.endswith("_pct") else 1_000_000_000) for n in names}
        for warning, critical in _DOCTOR_PAIRS:
            lower_is_worse = warning.startswith("disk_free")
            w, c = values[warning], values[critical]
            if (c > w) if lower_is_worse else (c < w):
                side, fix = ("above", "below") if lower_is_worse else ("below", "above")
                raise self.fail(f"{key}.{critical}", f"is {c}, {side} {warning} ({w}): a critical threshold lies "
                                f"past its warning", f"give {critical} a value {fix} {w}")
        return DoctorSpec(**values)

    def service_account(self, data: dict, key: str, name: str) -> str:
        value = self.word(data, key, name, "zookeeper", _LOGIN_NAME)
        if value == "root":
            raise self.fail(f"{key}.{name}", "the server never runs as root", f'write {name} = "zookeeper"')
        return value

    def purge_interval(self, data: dict, key: str) -> int:
        hours = self.integer(data, key, "purge_interval", 24, 0, 8760)
        if hours == 0:
            self.warnings.append(f"{self.path}: {key}.purge_interval: 0 turns autopurge off; snapshots and "
                                 f"transaction logs then grow until the disk is full unless something else purges")
        return hours

    def jvm_flags(self, data: dict, key: str) -> tuple[str, ...]:
        flags = data.get("jvm_flags", [])
        where = f"{key}.jvm_flags"
        if not isinstance(flags, list):
            raise self.fail(where, f"must be an array of JVM flags, got {shown(flags)}",
                            'write jvm_flags = ["-XX:+UseG1GC"]')
        for flag in flags:
            text = self.text(where, flag)
            if not _JVM_FLAG.fullmatch(text):
                raise self.fail(where, f"{shown(text)} is not one JVM flag (starts with -, no spaces or quotes)",
                                "give each flag its own string")
            if text.startswith("-Dzookeeper.") and (problem := property_problem(text)):
                raise self.fail(where, *problem)
        return tuple(flags)

    def zk_settings(self, data: Any) -> tuple[tuple[str, str], ...]:
        """[zookeeper.settings]: more zoo.cfg keys, each one the release reads and clusterctl does not write
        itself. A dotted key may be quoted ("quorum.cnxn.threads.size" = 20) or left to TOML's nesting."""
        key = "zookeeper.settings"
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table of zoo.cfg keys, got {shown(data)}",
                            'write [zookeeper.settings] with maxClientCnxns = 120')
        pairs = []
        for name, value in _flattened(data):
            where = join_key(key, name)
            if not _SETTING_KEY.fullmatch(name):
                raise self.fail(where, "is not a zoo.cfg key", "use letters, digits, '.', '_' and '-'")
            if problem := setting_problem(name):
                raise self.fail(where, *problem)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, float)):
                text = str(value)
            elif isinstance(value, str):
                text = self.text(where, value)
            else:
                raise self.fail(where, f"must be a string, number or boolean, got {shown(value)}",
                                "give one value")
            pairs.append((name, text))
        return tuple(pairs)

    def environment(self, data: dict, key: str) -> tuple[tuple[str, str], ...]:
        env = data.get("environment", {})
        where = f"{key}.environment"
        if not isinstance(env, dict):
            raise self.fail(where, f"must be a table NAME = \"value\", got {shown(env)}",
                            f'write [{where}] with ZOO_EXTRA = "value"')
        pairs = []
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name):
                raise self.fail(join_key(where, name), "is not an environment variable name", "use A-Z, 0-9 and _")
            text = self.text(join_key(where, name), value)
            if any(c in text for c in '"\\%$`'):
                raise self.fail(join_key(where, name), "may not hold quotes, backslashes, % or $ (a systemd unit "
                                "line reads them)", "give the plain value")
            pairs.append((name, text))
        return tuple(pairs)

    def four_letter_words(self, data: dict) -> tuple[str, ...]:
        key = "zookeeper.four_letter_words"
        words = data.get("four_letter_words", ["srvr", "mntr", "ruok", "stat", "conf", "isro"])
        if not isinstance(words, list):
            raise self.fail(key, f"must be an array of four-letter words, got {shown(words)}", 'write ["srvr", "mntr"]')
        for word in words:
            if not isinstance(word, str) or not _FOUR_LETTER_WORD.fullmatch(word):
                raise self.fail(key, f"{shown(word)} is not a four-letter word like \"srvr\" (or \"*\")",
                                "list the words ZooKeeper knows, in lower case")
        if len(set(words)) != len(words):
            raise self.fail(key, "lists a word twice", "list each word once")
        if "srvr" not in words and "*" not in words:
            raise self.fail(key, "must allow \"srvr\": zk status needs it", 'add "srvr"')
        return tuple(words)

    def zk_servers(self, data: Any, hosts: dict[str, Host]) -> tuple[ZkServer, ...]:
        key = "zookeeper.servers"
        if not isinstance(data, dict) or not data:
            raise self.fail(key, "missing or empty" if data in (None, {}) else f"must be a table, got {shown(data)}",
                            "add [zookeeper.servers] with host = myid lines")
        servers = []
        ids: dict[int, str] = {}
        for host, spec in data.items():
            where = join_key(key, host)
            if host not in hosts:
                raise self.fail(where, "is not a defined host", f"add [hosts.{key_part(host)}] or remove it")
            if type(spec) is int:
                spec = {"id": spec}
            elif not isinstance(spec, dict):
                raise self.fail(where, f"must be a myid from 1 to 255 or a table {{ id = N, observer = true }}, "
                                f"got {shown(spec)}", f"write {host} = 1")
            spec = self.table(spec, where, frozenset(("id", "observer")))
            if "id" not in spec:
                raise self.fail(f"{where}.id", "missing", "give each server a myid from 1 to 255")
            sid = self.integer(spec, where, "id", 1, 1, 255)
            if sid in ids:
                raise self.fail(where, f"myid {sid} is already used by {ids[sid]}", "ids must be unique")
            ids[sid] = host
            servers.append(ZkServer(host, sid, self.boolean(spec, where, "observer", False)))
        voters = [s for s in servers if not s.observer]
        if not voters:
            raise self.fail(key, "has no voter (every server is an observer)", "make at least one server a voter")
        if len(voters) % 2 == 0:
            from ..quorum import even_voters_warning
            self.warnings.append(f"{self.path}: {key}: {even_voters_warning(len(voters))}")
        return tuple(servers)


def _flattened(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of a table whose unquoted dotted keys TOML made into nested tables."""
    out = []
    for name, value in table.items():
        if isinstance(value, dict):
            out += _flattened(value, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", value))
    return out
