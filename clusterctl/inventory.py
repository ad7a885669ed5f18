"""Load and validate the TOML inventory before any host is contacted.

Every problem is an :class:`InventoryError` naming the file, the dotted key and
the fix. Relative paths in the inventory are resolved against the directory of
the inventory file, so a run does not depend on the current directory.
"""

from __future__ import annotations

import datetime
import difflib
import gc
import ipaddress
import os
import re
import stat
import threading
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import toml_rs

from .errors import InventoryError
from .package_files import PackageFileError, read_deb_identity, read_rpm_identity, tarball_top_dir

DEFAULT_INVENTORY = Path("configs/cluster.toml")
INVENTORY_ENV = "CLUSTERCTL_INVENTORY"

KEY_TYPES = ("ed25519", "rsa")
DISTRIBUTE_MODES = ("auto", "direct", "relay", "pipeline")
JDK_PACKAGE_KINDS = {".rpm": "rpm", ".deb": "deb", ".tar.gz": "tarball", ".tgz": "tarball"}
RELEASE_KINDS = {".tar.gz": "tarball", ".tgz": "tarball"}  # a ZooKeeper release
ADMIN_SERVER_MODES = ("off", "localhost", "all")

# Every pattern is used with fullmatch, so a trailing newline never slips past
# a `$`; classes are spelled in ASCII because \d and re.IGNORECASE match other
# scripts' digits and letters (the Kelvin sign matches [a-z] ignoring case).
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"  # lookarounds, not backtracking: this runs once per host
_HOSTNAME = re.compile(_HOST_LABEL)
_DNS_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
# inet_aton, which ssh resolves names with, reads a numeric last label (10.1, 0x7f000001) as an address.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[Xx][0-9A-Fa-f]*")
_OCTETS = frozenset(str(n) for n in range(256))  # spelled without leading zeros, as ipaddress wants them
# Remote directories reach shell scripts, PATH and unit files: no quotes, spaces,
# $, ':' or '%', no '.' or '..' components, none that reads as an option.
_REMOTE_DIR = re.compile(r"(?:/(?!\.\.?(?:/|\Z))(?!-)[A-Za-z0-9._+@-]+)+/?")
_FOUR_LETTER_WORD = re.compile(r"[a-z]{4}|\*")
_JVM_FLAG = re.compile(r"-[A-Za-z0-9:+_.=/,@-]+")  # one word: it is joined into SERVER_JVMFLAGS with spaces
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


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
_LONGEST_TEXT = 4096  # PATH_MAX: no inventory value needs more

_HOST_KEYS = frozenset(("address", "ssh_address", "user", "port", "identity", "interface", "prefix", "gateway", "dns",
                        "become", "jump"))
BECOME_METHODS = ("sudo", "none")
_PACKAGE_READERS = {"rpm": read_rpm_identity, "deb": read_deb_identity, "tarball": tarball_top_dir}
_PRIVATE_KEY_HEADERS = (b"-----BEGIN OPENSSH PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----",
                        b"-----BEGIN EC PRIVATE KEY-----", b"-----BEGIN PRIVATE KEY-----",
                        b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
_PUBLIC_KEY_STARTS = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-", b"---- BEGIN SSH2 PUBLIC KEY")


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
    environment: tuple[tuple[str, str], ...] = ()  # more environment for the server's unit
    conf_dir: str = "/etc/zookeeper"  # zoo.cfg and the dynamic membership, the server's (it rewrites them)
    secret_file: Path | None = None  # on the controller: the super-user password reconfig authenticates with

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


def inventory_path(option: str | os.PathLike | None) -> Path:
    """The inventory to use: the option, else $CLUSTERCTL_INVENTORY, else configs/cluster.toml."""
    if option:
        return Path(option)
    if os.environ.get(INVENTORY_ENV):
        return Path(os.environ[INVENTORY_ENV])
    return DEFAULT_INVENTORY


def load_inventory(path: str | os.PathLike) -> Inventory:
    """Read and validate an inventory; raise InventoryError on the first problem.

    Whatever the file holds, the only exception is InventoryError, whose message
    is one line naming the file, the dotted key and the fix.
    """
    path = Path(path)
    with _cyclic_gc_paused():
        return _Parser(path, _read_toml(path)).inventory()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # Parsing a large inventory allocates millions of dicts, lists and dataclasses
    # and hardly a reference cycle; the cycle collector would walk them over and over
    # (some 40% of loading 100,000 hosts) for nothing to free.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_toml(path: Path) -> dict[str, Any]:
    shown = _printable(path)
    try:
        with open(path, "rb") as fh:
            return parse_toml(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise InventoryError(shown, "", "file not found", f"pass -i PATH or set {INVENTORY_ENV}") from None
    except IsADirectoryError:
        raise InventoryError(shown, "", "is a directory", "pass -i with the inventory file itself") from None
    except OSError as exc:
        raise InventoryError(shown, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InventoryError(shown, "", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(shown, "", f"not valid TOML: {_one_line(exc)}") from None
    except RecursionError:
        raise InventoryError(shown, "", "not valid TOML: arrays or tables nest too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits, a NUL in the path
        raise InventoryError(shown, "", f"cannot read: {_one_line(exc)}") from None


def parse_toml(text: str) -> dict[str, Any]:
    """``text`` parsed as tomllib parses it, about ten times faster on a large inventory.

    toml-rs (Rust, in TOML 1.0 mode) reads the document; whenever it refuses
    the text, or cannot safely try, tomllib, the reference, reads it again and
    has the last word. So a valid document gives the same data in the same
    order, and an invalid one tomllib's own error message. The two agree on
    every TOML 1.0 case of the toml-test suite but one: toml-rs takes a leading
    byte order mark, as TOML allows. Beyond the suite, toml-rs reads integers of
    over 4,300 digits, which Python refuses to convert; the checks then name the
    key that holds "a huge integer". tests/unit/test_toml_parse.py checks that
    they agree on generated documents.
    """
    if text.count("[") + text.count("{") <= _FAST_PARSE_MAX_BRACKETS:
        parsed = _fast_parse(text)
        if parsed is not None:
            return parsed
    return tomllib.loads(text.removeprefix("\ufeff"))


# toml-rs recurses once per level of nested arrays and inline tables and has no
# limit of its own: a few thousand levels overflow the main thread's 8 MiB stack
# and the process dies (a segmentation fault, not an error). So it runs on a
# thread with a stack of its own, and only on documents with too few brackets to
# nest deeper than that stack holds: measured, a level takes at most 2.5 KiB, and
# 1.5 GiB is 2.4 times what 250,000 levels take. A stack is address space; only
# the levels a document really nests become memory.
_FAST_PARSE_MAX_BRACKETS = 250_000
_FAST_PARSE_STACK_BYTES = 1536 << 20


def _fast_parse(text: str) -> dict[str, Any] | None:
    """toml-rs's reading of ``text``, or None when it refuses the text or cannot run."""
    parsed: list[dict[str, Any]] = []

    def parse() -> None:
        try:
            parsed.append(toml_rs.loads(text, toml_version="1.0.0"))
        except Exception:  # whatever toml-rs trips on, tomllib says what is wrong
            pass

    try:
        previous = threading.stack_size(_FAST_PARSE_STACK_BYTES)
    except (ValueError, RuntimeError):  # a platform that will not size thread stacks
        return None
    try:
        worker = threading.Thread(target=parse, name="toml-parse", daemon=True)
        worker.start()
    except RuntimeError:  # no room for the stack (ulimit -v): tomllib reads it
        return None
    finally:
        threading.stack_size(previous)
    worker.join()
    return parsed[0] if parsed else None


def _printable(text: object) -> str:
    """``text`` with each line break or control character escaped (\\n): an error stays one line.

    Paths are the reason: a directory may be named with a newline, and every
    path an error names starts at the inventory's own directory.
    """
    text = str(text)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# -- how values appear in a one-line error -------------------------------------

_KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
          (list, "an array"), (dict, "a table"), (datetime.datetime, "a date-time"),
          (datetime.date, "a date"), (datetime.time, "a time"))


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + "…"


def _kind(value: object) -> str:
    return next((name for kind, name in _KINDS if isinstance(value, kind)), type(value).__name__)


def _shown(value: object) -> str:
    """``value`` as an error shows it: a scalar as TOML would write it (cut short), a table or array by kind."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value.bit_length() > 64:
        return "a huge integer"
    if isinstance(value, (int, float, str)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "…"
    return _kind(value)


def _key_part(name: str) -> str:
    """``name`` as one part of a dotted TOML key: bare where TOML allows, else quoted with escapes."""
    if _BARE_KEY.fullmatch(name) and len(name) <= 60:
        return name
    quoted = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04X}" if ord(c) < 0x10000
                     else f"\\U{ord(c):08X}" for c in name[:60])
    return f'"{quoted}{"…" if len(name) > 60 else ""}"'


def _join(key: str, name: str) -> str:
    return f"{key}.{_key_part(name)}" if key else _key_part(name)


# -- values on their own ---------------------------------------------------------

def _canonical_ip(text: str) -> str | None:
    """``text`` as the canonical spelling of an IPv4 or IPv6 address, or None if it is none.

    Zone ids (fe80::1%eth0) are refused: they are not addresses a host can be configured with.
    """
    octets = text.split(".")
    if len(octets) == 4 and _OCTETS.issuperset(octets):
        return text  # four octets without leading zeros: already canonical
    if ":" not in text or "%" in text:
        return None
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def _is_host_name(text: str) -> bool:
    return (len(text) <= 253 and bool(_DNS_NAME.fullmatch(text))
            and not _NUMERIC_LABEL.fullmatch(text.rsplit(".", 1)[-1]))


def _file_kind(path: Path) -> str:
    """What ``path`` is, as an error says it: "a file", "missing", "a directory", ..."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as exc:  # a name too long, a symlink loop, a directory on the way we may not enter
        return f"unreachable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "a file"
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file"


def _private_key_problem(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be the controller's SSH private key, with the fix; None if it can."""
    kind = _file_kind(path)
    if kind == "missing":
        return (f"identity file {path} is missing or unreadable",
                "point it at a private key, or remove the key to use ssh-agent / ssh_config")
    if kind != "a file":
        return f"identity {path} is {kind}", "point it at a private key file such as ~/.ssh/id_ed25519"
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as exc:
        return (f"identity file {path} is missing or unreadable ({exc.strerror})",
                "point it at a private key, or remove the key to use ssh-agent / ssh_config")
    if head.startswith(b"-----BEGIN DSA PRIVATE KEY-----"):
        return (f"identity {path} is a DSA key, which OpenSSH disables since 7.0 and paramiko 4+ cannot load",
                "point it at an ed25519 or RSA private key")
    if head.startswith(_PRIVATE_KEY_HEADERS):
        return None
    if head.startswith(_PUBLIC_KEY_STARTS):
        return (f"identity {path} is a public key", f"point it at the private key {path.with_suffix('')}"
                if path.suffix == ".pub" else "point it at the private key, not the public one")
    if head.startswith(b"PuTTY-User-Key-File-"):
        return f"identity {path} is a PuTTY key", "convert it with 'puttygen KEY -O private-openssh -o KEY.openssh'"
    return (f"identity {path} is not an SSH private key (no OpenSSH or PEM private key header)",
            "point it at a private key such as ~/.ssh/id_ed25519")


def package_problem(path: Path, kind: str) -> tuple[str, str] | None:
    """Why the package file ``path`` cannot be read as a ``kind`` (rpm, deb, tarball), with the fix; None if it can.

    Both are one printable line.
    """
    found = _file_kind(path)
    if found == "missing" or found == "a file" and not os.access(path, os.R_OK):
        return (_printable(f"{path} does not exist or is unreadable"),
                "build it with 'clusterctl artifacts' or point the key at your package")
    if found != "a file":
        return _printable(f"{path} is {found}"), "point the key at the package file"
    try:
        _PACKAGE_READERS[kind](path)
    except PackageFileError as exc:
        return _printable(_one_line(exc, 300)), "download or build the package again ('clusterctl artifacts')"
    return None


class _Parser:
    cluster_given: frozenset[str] = frozenset()

    def __init__(self, path: Path, raw: dict[str, Any]):
        self.path = path
        self.raw = raw
        self.base = path.parent
        self.warnings: list[str] = []
        self.private_keys: set[Path] = set()  # each identity file is read once, not once per host
        self.known_ips: dict[str, str] = {}  # gateways and DNS servers repeat on every host: checked once

    def fail(self, key: str, problem: str, fix: str = "") -> InventoryError:
        return InventoryError(_printable(self.path), key, _printable(problem), _printable(fix))

    # -- generic checks -------------------------------------------------
    def table(self, data: Any, key: str, allowed: frozenset[str], fix: str = "") -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table, got {_shown(data)}", fix or f"write it as [{key}]")
        if not allowed.issuperset(data):
            name = next(n for n in data if n not in allowed)
            close = difflib.get_close_matches(name, sorted(allowed), n=1) if len(name) <= 60 else []
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(sorted(allowed))}"
            raise self.fail(_join(key, name), "unknown key", hint)
        return data

    def text(self, key: str, value: Any) -> str:
        """``value`` if it is a non-empty string of printable characters."""
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_shown(value)}", 'quote it: "..."')
        if not value:
            raise self.fail(key, "must not be empty", "give it a value or remove the key")
        if len(value) > _LONGEST_TEXT:
            raise self.fail(key, f"is {len(value)} characters long, more than {_LONGEST_TEXT}", "shorten it")
        if not value.isprintable():
            odd = next(c for c in value if not c.isprintable())
            raise self.fail(key, f"holds the control or invisible character {odd!r} ({_shown(value)})", "remove it")
        return value

    def word(self, data: dict, key: str, name: str, default: str | None, shape: _Shape) -> str | None:
        """``data[name]`` if it has ``shape``, else ``default`` when absent."""
        if name not in data:
            return default
        value = self.text(f"{key}.{name}", data[name])
        if not shape.pattern.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"{_shown(value)} is not {shape.description}",
                            f'write {name} = "{shape.example}"')
        return value

    def integer(self, data: dict, key: str, name: str, default: int, lo: int, hi: int) -> int:
        if name not in data:
            return default
        value = data[name]
        if type(value) is not int or not lo <= value <= hi:
            raise self.fail(f"{key}.{name}", f"must be a whole number from {lo} to {hi}, got {_shown(value)}",
                            f"write {name} = {default}" if lo <= default <= hi else f"write {name} = {lo}")
        return value

    def boolean(self, data: dict, key: str, name: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, got {_shown(value)}", f"write {name} = true")
        return value

    def choice(self, data: dict, key: str, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or value not in choices:
            raise self.fail(f"{key}.{name}", f"{_shown(value)} is not one of {', '.join(choices)}",
                            f'write {name} = "{default}"')
        return value

    def host_list(self, data: dict, key: str, hosts: dict[str, Host]) -> tuple[str, ...]:
        """The hosts a step works on: data["hosts"], each a defined host once, else every host."""
        if "hosts" not in data:
            return tuple(hosts)
        value = data["hosts"]
        if not isinstance(value, list) or not value:
            raise self.fail(f"{key}.hosts", f"must be a non-empty array of host names, got {_shown(value)}",
                            'write hosts = ["node1", ...] or remove the key for every host')
        listed: set[str] = set()
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in hosts:
                raise self.fail(f"{key}.hosts", f"names host {_shown(name)} (item {i + 1}), which is not defined",
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
            raise self.fail(key, f"cannot resolve {_shown(text)}: {_one_line(exc)}", "point it at a real path") from None

    def address(self, key: str, value: Any) -> str:
        """An IP address (canonical) or a host name to connect to."""
        text = self.text(key, value)
        ip = _canonical_ip(text)
        if ip is not None:
            return ip
        if not _is_host_name(text):
            raise self.fail(key, f"{_shown(text)} is neither an IP address nor a host name",
                            'write an address like "192.168.10.11" or a name like "node1.example.com"')
        return text

    def ip(self, key: str, value: Any, fix: str) -> str:
        if type(value) is str and value in self.known_ips:
            return self.known_ips[value]
        ip = _canonical_ip(self.text(key, value))
        if ip is None:
            raise self.fail(key, f"{_shown(value)} is not an IP address", fix)
        self.known_ips[value] = ip
        return ip

    def identity(self, key: str, value: Any) -> Path:
        path = self.local_path(key, value)
        if path not in self.private_keys:
            problem = _private_key_problem(path)
            if problem:
                raise self.fail(key, *problem)
            self.private_keys.add(path)
        return path

    def known_hosts(self, key: str, value: Any) -> Path:
        """Where to pin host keys: a readable file, or one that can be created (its parents are made)."""
        path = self.local_path(key, value)
        fix = "point it at a file; clusterctl creates it and its directory if missing"
        kind = _file_kind(path)
        if kind == "a file":
            if not os.access(path, os.R_OK | os.W_OK):
                raise self.fail(key, f"{path} is not readable and writable", "fix its permissions")
            return path
        if kind != "missing":
            raise self.fail(key, f"{path} is {kind}", fix)
        for parent in path.parents:
            kind = _file_kind(parent)
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
            raise self.fail(dotted, f"{_shown(path.name)} is not a {', '.join(kinds)} package", missing_fix)
        return path, kind

    def remote_dir(self, data: dict, key: str, name: str, default: str) -> str:
        if name not in data:
            return default
        value = self.text(f"{key}.{name}", data[name])
        if not _REMOTE_DIR.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"{_shown(value)} must be an absolute path of letters, digits and "
                            "._+@- without quotes, spaces, $ or '..'", f'write {name} = "{default}"')
        return value.rstrip("/")

    # -- sections -------------------------------------------------------
    def inventory(self) -> Inventory:
        self.table(self.raw, "", frozenset(("cluster", "hosts", "ssh_trust", "jdk", "zookeeper")))
        cluster = self.cluster(self.raw.get("cluster", {}))
        hosts = self.hosts(self.raw.get("hosts"), cluster)
        trust = self.ssh_trust(self.raw.get("ssh_trust", {}), hosts)
        jdk = self.jdk(self.raw["jdk"], hosts) if "jdk" in self.raw else None
        zk = self.zookeeper(self.raw["zookeeper"], hosts) if "zookeeper" in self.raw else None
        return Inventory(self.path, cluster, hosts, trust, jdk, zk, tuple(self.warnings))

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
                    raise self.fail(key, f"{_shown(part)} has no port from 1 to 65535 after ':'",
                                    'write jump = "user@bastion:2222"')
                port = int(port_text)
            if user and not _LOGIN_NAME.pattern.fullmatch(user):
                raise self.fail(key, f"{_shown(user)} is not a login name", 'write jump = "user@bastion"')
            if _canonical_ip(host.strip("[]")) is None and not _is_host_name(host):
                raise self.fail(key, f"{_shown(host)} is neither an IP address nor a host name",
                                'write jump = "user@bastion.example.com:22", or "none"')
            hops.append(Jump(host.strip("[]"), user or None, port))
        return tuple(hops)

    def hosts(self, data: Any, cluster: ClusterSpec) -> dict[str, Host]:
        if not isinstance(data, dict) or not data:
            raise self.fail("hosts", "no hosts defined" if data in (None, {}) else
                            f"must be a table of hosts, got {_shown(data)}",
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
        if not _HOSTNAME.fullmatch(name):
            raise self.fail(f"hosts.{_key_part(name)}", "host names hold letters, digits and '-' "
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
        if (interface or "prefix" in spec or "gateway" in spec) and _canonical_ip(static) is None:
            raise self.fail(f"{key}.address", f"must be an IP address for the network step, got {_shown(static)}",
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
            raise self.fail(f"{key}.dns", f"must be an array of IP addresses, got {_shown(dns)}",
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
            "secret_file")))
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
            environment=self.environment(data, key),
            conf_dir=self.remote_dir(data, key, "conf_dir", "/etc/zookeeper"),
            secret_file=self.local_path(f"{key}.secret_file", data["secret_file"]) if "secret_file" in data else None,
        )

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
            raise self.fail(where, f"must be an array of JVM flags, got {_shown(flags)}",
                            'write jvm_flags = ["-XX:+UseG1GC"]')
        for flag in flags:
            text = self.text(where, flag)
            if not _JVM_FLAG.fullmatch(text):
                raise self.fail(where, f"{_shown(text)} is not one JVM flag (starts with -, no spaces or quotes)",
                                "give each flag its own string")
        return tuple(flags)

    def environment(self, data: dict, key: str) -> tuple[tuple[str, str], ...]:
        env = data.get("environment", {})
        where = f"{key}.environment"
        if not isinstance(env, dict):
            raise self.fail(where, f"must be a table NAME = \"value\", got {_shown(env)}",
                            f'write [{where}] with ZOO_EXTRA = "value"')
        pairs = []
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name):
                raise self.fail(_join(where, name), "is not an environment variable name", "use A-Z, 0-9 and _")
            text = self.text(_join(where, name), value)
            if any(c in text for c in '"\\%$`'):
                raise self.fail(_join(where, name), "may not hold quotes, backslashes, % or $ (a systemd unit "
                                "line reads them)", "give the plain value")
            pairs.append((name, text))
        return tuple(pairs)

    def four_letter_words(self, data: dict) -> tuple[str, ...]:
        key = "zookeeper.four_letter_words"
        words = data.get("four_letter_words", ["srvr", "mntr", "ruok", "stat", "conf", "isro"])
        if not isinstance(words, list):
            raise self.fail(key, f"must be an array of four-letter words, got {_shown(words)}", 'write ["srvr", "mntr"]')
        for word in words:
            if not isinstance(word, str) or not _FOUR_LETTER_WORD.fullmatch(word):
                raise self.fail(key, f"{_shown(word)} is not a four-letter word like \"srvr\" (or \"*\")",
                                "list the words ZooKeeper knows, in lower case")
        if len(set(words)) != len(words):
            raise self.fail(key, "lists a word twice", "list each word once")
        if "srvr" not in words and "*" not in words:
            raise self.fail(key, "must allow \"srvr\": zk status needs it", 'add "srvr"')
        return tuple(words)

    def zk_servers(self, data: Any, hosts: dict[str, Host]) -> tuple[ZkServer, ...]:
        key = "zookeeper.servers"
        if not isinstance(data, dict) or not data:
            raise self.fail(key, "missing or empty" if data in (None, {}) else f"must be a table, got {_shown(data)}",
                            "add [zookeeper.servers] with host = myid lines")
        servers = []
        ids: dict[int, str] = {}
        for host, spec in data.items():
            where = _join(key, host)
            if host not in hosts:
                raise self.fail(where, "is not a defined host", f"add [hosts.{_key_part(host)}] or remove it")
            if type(spec) is int:
                spec = {"id": spec}
            elif not isinstance(spec, dict):
                raise self.fail(where, f"must be a myid from 1 to 255 or a table {{ id = N, observer = true }}, "
                                f"got {_shown(spec)}", f"write {host} = 1")
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
            from .quorum import even_voters_warning
            self.warnings.append(f"{self.path}: {key}: {even_voters_warning(len(voters))}")
        return tuple(servers)

