"""Whatever the inventory file holds, loading returns an Inventory or one InventoryError line, nothing else.

The documents are valid inventories with values swapped for junk of every
TOML type, keys dropped or added, sections replaced, text spliced into the
TOML source, and raw bytes. What loads must hold only values of the strict
shapes the loader promises; what does not must say so in one line naming the
file and the key. The CLI says the same and contacts no host.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import clusterctl.core.connection
from clusterctl.cli import main
from clusterctl.errors import InventoryError
from clusterctl.inventory import Inventory, load_inventory
from test_package_files import write_package

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
FILE_LEVEL = ("not valid TOML", "not UTF-8 text", "cannot read")  # problems of the whole file, not of a key

# Strings that have found holes before, or sit next to one.
SHARP_STRINGS = [
    "10.0.0.1", "10.0.0.1\n", " 10.0.0.1", "010.0.0.1", "10.1", "0x7f000001", "::1", "fe80::1%eth0", "fd00::1",
    "node1", "node1\n", "NODE1", "node\u212a", "node-", "-node", "a" * 64, "node1.example.com", "localhost.",
    "eth0", "eth0;reboot", "eth 0", "eth0/1", "..", "-eth0", "a" * 16, "root", "root$", "Root", "r$oot", "$(id)",
    "`id`", "a'b", 'a"b', "a\\b", "/opt", "/opt/", "/", "//opt", "/opt/../etc", "/opt/-rf", "/opt/a:b", "/opt/%i",
    "relative/dir", "~/.ssh/known_hosts", "key", "key.pub", "notes.txt", "a-directory", "a-directory/known_hosts",
    "notes.txt/known_hosts", "jdk.rpm", "jdk.deb", "jdk.tar.gz", "zk.tar.gz", "cut.rpm", "cut.deb", "cut.tar.gz",
    "garbage.rpm", "garbage.tar.gz", "missing.rpm", "jdk.zip", "srvr", "SRVR", "*", "auto", "pipeline", "off",
    "all", "ed25519", "dsa", "", "\x00", "\u2028", "\u200b", "\t", "\r", "\x1b[31m", "é", "😀", "x" * 5000,
]
SECTIONS = ("cluster", "hosts", "ssh_trust", "jdk", "zookeeper")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A directory with the files SHARP_STRINGS name: keys, packages good and broken, a directory."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "key").write_text(PRIVATE_KEY)
    (root / "key.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINBJ me@host\n")
    (root / "notes.txt").write_text("a private key\n")
    (root / "a-directory").mkdir()
    for name in ("jdk.rpm", "jdk.deb", "jdk.tar.gz", "zk.tar.gz"):
        write_package(root / name)
    for suffix in ("rpm", "deb", "tar.gz"):
        (root / f"cut.{suffix}").write_bytes((root / f"jdk.{suffix}").read_bytes()[:60])
        (root / f"garbage.{suffix}").write_bytes(b"\x1f\x8b\x08garbage" * 20)
    return root


def valid_inventory() -> dict:
    return {
        "cluster": {"name": "seed", "user": "root", "port": 22, "identity": "key", "known_hosts": "known_hosts"},
        "hosts": {f"node{i}": {"address": f"192.168.10.1{i}", "interface": "eth0", "prefix": 24,
                               "gateway": "192.168.10.1", "dns": ["192.168.10.1"]} for i in range(1, 5)},
        "ssh_trust": {"key_type": "ed25519", "hosts": ["node1", "node2", "node3", "node4"]},
        "jdk": {"package": "jdk.rpm", "hosts": ["node1", "node2"], "stage_dir": "/opt/apps",
                "java_home": "/usr/java/default", "distribute": "auto"},
        "zookeeper": {"package": "zk.tar.gz", "install_dir": "/opt", "client_port": 2181,
                      "four_letter_words": ["srvr", "ruok"], "servers": {"node2": 1, "node3": 2, "node4": {"id": 3}}},
    }


scalars = st.one_of(
    st.sampled_from(SHARP_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), max_size=20),
    st.integers(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
)
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(SHARP_STRINGS) | st.text(max_size=8), inner,
                                                 max_size=4)), max_leaves=8)


def paths_of(tree: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path in ``tree``, tables included."""
    found = []
    for name, value in tree.items():
        found.append(prefix + (name,))
        if isinstance(value, dict):
            found += paths_of(value, prefix + (name,))
    return found


@st.composite
def mutated_inventories(draw) -> dict:
    """A valid inventory with a few values swapped for junk, keys dropped, or keys added."""
    tree = valid_inventory()
    for _ in range(draw(st.integers(1, 4))):
        paths = paths_of(tree)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = tree
        for name in path[:-1]:
            parent = parent[name]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add", "rename"]))
        if action == "replace":
            parent[path[-1]] = draw(junk)
        elif action == "drop":
            del parent[path[-1]]
        elif action == "add":
            target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
            target[draw(st.sampled_from(SHARP_STRINGS) | st.text(max_size=8))] = draw(junk)
        else:
            parent[draw(st.sampled_from(SHARP_STRINGS))] = parent.pop(path[-1])
    return tree


def toml_string(text: str) -> str:
    escaped = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04X}" if ord(c) < 0x10000
                      else f"\\U{ord(c):08X}" for c in text)
    return f'"{escaped}"'


def toml_value(value: object) -> str:
    """``value`` as TOML (inline tables and arrays, so any nesting is one line)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, datetime.date, datetime.time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(tree: dict) -> str:
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in tree.items())


@st.composite
def spliced_documents(draw) -> bytes:
    """The TOML source of a valid inventory with junk text spliced in and pieces cut out."""
    text = toml_document(valid_inventory())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(["\n", "[", "]", "=", '"', "[[hosts]]\n", "[hosts.x]\n", "\\",
                                                     "\x00", "\r", "\ud7ff", "#"]) | st.text(max_size=6)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
    return text.encode("utf-8", "surrogatepass")


def check_outcome(path: Path) -> None:
    """load_inventory(path) returns a well-shaped Inventory or raises a one-line InventoryError; nothing else."""
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1 and "\n" not in message, message
        assert message.startswith(f"{path}: "), message
        if not any(problem in message for problem in FILE_LEVEL):
            assert exc.key and message.startswith(f"{path}: {exc.key}: "), message
        return
    assert isinstance(inventory, Inventory)
    assert_well_shaped(inventory)


LOGIN = re.compile(r"[a-z_][a-z0-9_-]{0,31}\$?")
INTERFACE = re.compile(r"[A-Za-z0-9_.:-]{1,15}")
REMOTE_DIR = re.compile(r"(/[A-Za-z0-9._+@-]+)+")


def assert_well_shaped(inventory: Inventory) -> None:
    for host in inventory.hosts.values():
        assert isinstance(host.address, str) and host.address.isprintable() and host.address.isascii()
        assert LOGIN.fullmatch(host.user) and type(host.port) is int and 1 <= host.port <= 65535
        assert host.interface is None or INTERFACE.fullmatch(host.interface)
        assert host.prefix is None or type(host.prefix) is int
        assert all(isinstance(d, str) and d.isascii() for d in host.dns)
    for spec in (inventory.jdk, inventory.zookeeper):
        for value in vars(spec).values() if spec else ():
            if isinstance(value, str) and value.startswith("/"):
                assert REMOTE_DIR.fullmatch(value), value
    assert set(inventory.ssh_trust.hosts) <= set(inventory.hosts)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(mutated_inventories())
def test_mutated_inventories_load_or_fail_in_one_line(workspace, tree):
    path = workspace / "cluster.toml"
    path.write_text(toml_document(tree))
    check_outcome(path)


@FUZZ
@given(spliced_documents())
def test_spliced_toml_loads_or_fails_in_one_line(workspace, source):
    path = workspace / "cluster.toml"
    path.write_bytes(source)
    check_outcome(path)


@FUZZ
@given(st.binary(max_size=300) | st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"x = 1\r\n", b"\x00"]))
def test_raw_bytes_load_or_fail_in_one_line(workspace, source):
    path = workspace / "cluster.toml"
    path.write_bytes(source)
    check_outcome(path)


def test_a_valid_inventory_is_the_starting_point(workspace):
    path = workspace / "valid.toml"
    path.write_text(toml_document(valid_inventory()))
    assert_well_shaped(load_inventory(path))


# -- through the command line ------------------------------------------------------------------

@pytest.fixture
def no_connections(monkeypatch) -> list:
    """Every attempt to open a connection, recorded (the session looks open_connection up when it connects)."""
    attempts: list = []

    def refuse(host, *args, **kwargs):
        attempts.append(host)
        raise AssertionError(f"a connection to {host.name} was attempted")

    monkeypatch.setattr(clusterctl.core.connection, "open_connection", refuse)
    return attempts


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_inventories())
def test_plan_with_a_bad_inventory_exits_2_with_one_line_and_touches_no_host(workspace, no_connections, tree):
    path = workspace / "cli.toml"
    path.write_text(toml_document(tree))
    try:
        load_inventory(path)
    except InventoryError:
        pass
    else:
        return  # a mutation that left the inventory valid: plan would go on to the hosts
    status, stderr = run_cli(["plan", "-i", str(path)])
    assert status == 2
    assert len(stderr.splitlines()) == 1 and stderr.startswith(f"clusterctl: {path}: "), stderr
    assert no_connections == []


@pytest.mark.parametrize("text", [
    '[hosts.node1]\naddress = 10\n',
    '[hosts.node1]\naddress = "10.0.0.1"\ngateway = ["10.0.0.1"]\n',
    '[hosts.node1]\naddress = "10.0.0.1"\nuser = "root;reboot"\n',
    '[hosts.node1]\naddress = "10.0.0.1\\n"\n',
    '[[hosts]]\naddress = "10.0.0.1"\n',
    '[hosts.node1]\naddress = "10.0.0.1"\n[jdk]\npackage = "cut.zip"\n',
    "\xff not even text",
])
def test_plan_refuses_each_known_hole_in_one_line(workspace, no_connections, capsys, text):
    path = workspace / "known.toml"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    assert main(["plan", "-i", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(path) in err and "Traceback" not in err
    assert no_connections == []
