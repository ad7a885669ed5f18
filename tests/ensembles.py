"""A running ensemble on a lab as the end-to-end tests drive it: its inventory rewritten as an operator
edits it, the clusterctl command line, what each server says of itself, and second builds of the
ZooKeeper release and the JDK to upgrade to. Shared by the systemd and the no-systemd modules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.lab_helpers import SERVER_PID, inside

REPO = Path(__file__).resolve().parents[1]
WORD = ("python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 2181), 2); s.sendall(b'{}'); "
        "print(s.makefile('rb').read().decode())\"")


class Ensemble:
    """The lab and its inventory, rewritten by each test as an operator edits it."""

    def __init__(self, lab, base: str):
        self.lab, self.base = lab, base
        self.path = lab.inventory_path.parent / "lifecycle.toml"
        self.current: tuple = ({}, 5, ())

    def inventory(self, servers: dict[str, int | tuple[int, bool]], sync_limit: int = 5, without=(),
                  settings: str = "") -> Path:
        """The inventory with these servers (and ``without`` these hosts at all: a dead node dropped; more
        zoo.cfg ``settings`` lines, [zookeeper.settings])."""
        self.current = (dict(servers), sync_limit, tuple(without))
        lines = []
        for host, spec in servers.items():
            sid, observer = spec if isinstance(spec, tuple) else (spec, False)
            lines.append(f"{host} = {{ id = {sid}, observer = true }}" if observer else f"{host} = {sid}")
        text = self.base.replace("sync_limit = 5", f"sync_limit = {sync_limit}")
        for node in without:
            text = re.sub(rf'\[hosts\.{node}\]\naddress = "[^"]*"\n', "", text)
            text = text.replace(f'"{node}", ', "").replace(f', "{node}"', "")
        more = f"[zookeeper.settings]\n{settings}\n" if settings else ""
        self.path.write_text(text + "\n".join(lines) + "\n" + more)
        return self.path

    def cli(self, *words: str, timeout: float = 900, answers: str = "",
            state_home: Path | None = None) -> subprocess.CompletedProcess:
        """``clusterctl WORDS -i INVENTORY``, ``answers`` typed at its prompts; ``state_home`` its
        XDG_STATE_HOME (run logs, the super user's secret) instead of the controller's own."""
        env = {**os.environ, "XDG_STATE_HOME": str(state_home)} if state_home else None
        return subprocess.run([sys.executable, "-m", "clusterctl", *words, "-i", str(self.path)], input=answers,
                              capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)

    def changes_losing_no_write(self, *words: str, through) -> subprocess.CompletedProcess:
        """``clusterctl WORDS`` with a client writing through the servers ``through`` all along; it must
        succeed, and every acknowledged write must read back afterwards."""
        from tests.lab_helpers import Writer
        with Writer(self.hosts(through)) as writer:
            done = self.cli(*words)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert writer.lost() == [], f"{len(writer.acked)} acknowledged"
        return done

    def srvr(self, node: str) -> str:
        """What the node's server says of itself (srvr, asked on the node)."""
        return self.word(node, "srvr")

    def word(self, node: str, word: str) -> str:
        """The node's server's answer to a four-letter word, asked on the node."""
        return inside(self.lab, node, WORD.format(word), check=False)

    def role(self, node: str) -> str:
        out = self.srvr(node)
        mode = re.search(r"^Mode: (\w+)", out, re.M)
        return mode.group(1) if mode else ("looking" if "not currently serving" in out else "down")

    def version(self, node: str) -> str:
        """The version string the node's server reports (srvr)."""
        found = re.search(r"^Zookeeper version: (.*)$", self.srvr(node), re.M)
        return found.group(1) if found else ""

    def pid(self, node: str) -> str:
        """The server's pid: the unit's main process under systemd, else the one zkServer.sh wrote down."""
        return inside(self.lab, node, SERVER_PID).strip()

    def started_at(self, node: str) -> int:
        """When the server's process started, in µs since boot (to the kernel's clock tick; the lab's nodes
        share one kernel, so the times of different nodes compare): orders the restarts of a roll."""
        stat = inside(self.lab, node, f"cat /proc/{self.pid(node)}/stat")
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        return ticks * 1_000_000 // os.sysconf("SC_CLK_TCK")

    def hosts(self, nodes) -> str:
        return ",".join(f"{self.lab.address(n)}:2181" for n in nodes)

    def config(self, through: list[str]) -> dict[int, tuple[str, str]]:
        """id → (host, role) as ZooKeeper's /zookeeper/config has it (read after a sync)."""
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.hosts(through), timeout=10)
        zk.start(timeout=30)
        try:
            zk.sync("/zookeeper/config")
            data, _ = zk.get("/zookeeper/config")
        finally:
            zk.stop()
            zk.close()
        members = {}
        for line in data.decode().splitlines():
            m = re.match(r"server\.(\d+)=([^:]+):\d+:\d+:(\w+)", line)
            if m:
                members[int(m.group(1))] = (m.group(2), m.group(3))
        return members

    def plan_is_empty(self) -> None:
        plan = self.cli("plan")
        assert plan.returncode == 0 and "plan: nothing to change" in plan.stdout, plan.stdout[-3000:] + plan.stderr


@contextmanager
def bootstrapped_three(artifacts, name: str, subnet: str, spare: int = 0, **up_kwargs) -> Iterator[Ensemble]:
    """A lab of node1..node3 (no service manager unless ``up_kwargs`` say otherwise) bootstrapped into a
    three-voter ensemble with short ticks, for a module's tests to share; torn down afterwards. ``spare``
    more nodes (node4…) are in the lab, untouched (see :func:`runbook_for`)."""
    from tests.lab_helpers import running_lab
    nodes = ["node1", "node2", "node3"]
    extra = runbook_for(artifacts, nodes)
    with running_lab(name, subnet, len(nodes) + spare, **{"init": "none", **up_kwargs},
                     inventory_extra=extra) as lab:
        base = lab.inventory_path.read_text().split("[zookeeper.servers]\n")[0] + "[zookeeper.servers]\n"
        ensemble = Ensemble(lab, base)
        ensemble.inventory({n: i for i, n in enumerate(nodes, 1)})
        boot = ensemble.cli("bootstrap")
        assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr
        yield ensemble


def runbook_for(artifacts, nodes: list[str]) -> str:
    """The [jdk] and [zookeeper] sections for an ensemble of ``nodes`` with short ticks."""
    from clusterctl.lab.runbook import render_runbook_sections
    extra = render_runbook_sections(nodes, artifacts["jdk_tarball"], artifacts["zookeeper"], heap_mb=128)
    return extra.replace("heap_mb = 128", "heap_mb = 128\ntick_time = 500\ninit_limit = 10\nsync_limit = 5")


UNSET_REVISION, SECOND_BUILD = b"${mvngit.commit.id}", b"clusterctl-build-b2"  # one length: a same-size patch


def with_revision(jar: bytes, revision: bytes) -> bytes:
    """The server jar with another revision in its version string ("3.8.0-<revision>, built on …").

    The string is a constant javac folded into Version.class; the patch keeps its length, so the
    class file stays valid and every server built from it reports the new version string.
    """
    import io
    import zipfile
    assert len(revision) == len(UNSET_REVISION)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(jar)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "org/apache/zookeeper/Version.class":
                assert data.count(UNSET_REVISION) == 1
                data = data.replace(UNSET_REVISION, revision)
            zout.writestr(item, data)
    return out.getvalue()


def rebuild(source: Path, target: Path, top: str, *, broken: bool = False) -> Path:
    """The release under another top directory: a second build (its version string says so, and a BUILD
    file), or a broken one whose server jar is no jar and whose lib/ holds no other (its start script
    then fails: no main class). Either has what zk upgrade checks a release for before sending it."""
    import io
    import tarfile
    with tarfile.open(source) as tin, tarfile.open(target, "w:gz", compresslevel=1) as tout:
        for member in tin:
            _, _, rest = member.name.partition("/")
            server_jar = re.fullmatch(r"lib/zookeeper-[\d.]+\.jar", rest)
            if broken and rest.startswith("lib/") and rest.endswith(".jar") and not server_jar:
                continue
            data = tin.extractfile(member) if member.isfile() else None
            if server_jar:
                patched = b"not a jar\n" if broken else with_revision(data.read(), SECOND_BUILD)
                member.size, data = len(patched), io.BytesIO(patched)
            member.name = top + ("/" + rest if rest else "")
            if member.islnk():
                member.linkname = top + "/" + member.linkname.partition("/")[2]
            tout.addfile(member, data)
        note = f"{top}: built for clusterctl's upgrade tests\n".encode()
        info = tarfile.TarInfo(f"{top}/BUILD.txt")
        info.size, info.mode, info.mtime = len(note), 0o644, 1_700_000_000
        tout.addfile(info, io.BytesIO(note))
    return target


def link(ensemble, node: str) -> str:
    return inside(ensemble.lab, node, "readlink /opt/zookeeper || true").strip()


def whole(ensemble, nodes) -> bool:
    roles = [ensemble.role(n) for n in nodes]
    return roles.count("leader") == 1 and all(r in ("leader", "follower") for r in roles)


def rebuild_jdk(source: Path, target: Path, top: str, *, broken: bool = False) -> Path:
    """The JDK tarball under another top directory; ``broken``: its bin/java exits 1 at once."""
    import io
    import tarfile
    with tarfile.open(source) as tin, tarfile.open(target, "w:gz", compresslevel=1) as tout:
        for member in tin:
            _, _, rest = member.name.partition("/")
            data = tin.extractfile(member) if member.isfile() else None
            if broken and rest == "bin/java":
                script = b"#!/bin/sh\necho 'this java is broken on purpose' >&2\nexit 1\n"
                member.size, data = len(script), io.BytesIO(script)
            member.name = top + ("/" + rest if rest else "")
            if member.islnk():
                member.linkname = top + "/" + member.linkname.partition("/")[2]
            tout.addfile(member, data)
    return target


def java_of(ensemble, node: str) -> str:
    return inside(ensemble.lab, node, f"readlink -f /proc/{ensemble.pid(node)}/exe").strip()
