"""Each step's decide and apply as data: facts in, plans, scripts and files out (one JSON file per case).

A case (tests/unit/step_cases/*.json) names a step, an inventory, the
``--hosts`` limit, every host's facts, and what must come of them: each
host's planned change summaries, the remote scripts run on it (script and
arguments; written files by path and content, or ``{"lines": [...]}`` it
must hold) and its final state. The step
runs through a real Session whose hosts are :class:`tests.fakes.FakeRemote`.

Placeholders in a case: @ZK@ / @ZK_SHA@ (@ZK_SHA12@, its first 12) / @ZK_NAME@ and @JDK@ / @JDK_SHA@ /
@JDK_SIZE@ stand for small real packages built for the case.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from clusterctl.core.facts import Fact
from clusterctl.errors import Interrupted
from clusterctl.inventory import load_inventory
from clusterctl.steps.base import plan_steps, run_steps
from tests.fakes import fake_session

CASES = sorted((Path(__file__).parent / "step_cases").glob("*.json"))


def release_tarball(path: Path, top: str, files: dict[str, bytes]) -> Path:
    """A tarball with fixed times, so its sha256 is the same on every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def placeholders(tmp_path: Path) -> dict[str, str]:
    zk = release_tarball(tmp_path / "apache-zookeeper-3.8.0-bin.tar.gz", "apache-zookeeper-3.8.0-bin",
                         {"bin/zkServer.sh": b"#!/bin/sh\n"})
    jdk = release_tarball(tmp_path / "jdk-17.0.15_linux-x64_bin.tar.gz", "jdk-17.0.15",
                          {"bin/java": b"#!/bin/sh\n", "release": b'JAVA_VERSION="17.0.15"\n'})
    zk_sha = hashlib.sha256(zk.read_bytes()).hexdigest()
    return {"@ZK@": str(zk), "@ZK_SHA12@": zk_sha[:12], "@ZK_SHA@": zk_sha,
            "@ZK_NAME@": "apache-zookeeper-3.8.0-bin", "@JDK@": str(jdk),
            "@JDK_SHA@": hashlib.sha256(jdk.read_bytes()).hexdigest(), "@JDK_SIZE@": str(jdk.stat().st_size)}


def substituted(value, table: dict[str, str]):
    if isinstance(value, str):
        for key, real in table.items():
            value = value.replace(key, real)
        return value
    if isinstance(value, list):
        return [substituted(v, table) for v in value]
    if isinstance(value, dict):
        return {substituted(k, table): substituted(v, table) for k, v in value.items()}
    return value


def make_step(spec: dict):
    module, _, name = spec["step"].rpartition(".")
    return getattr(importlib.import_module(f"clusterctl.steps.{module}"), name)(**spec.get("args", {}))


def load_case(path: Path, tmp_path: Path):
    """A case file's (case, inventory, facts), its placeholders filled in."""
    case = substituted(json.loads(path.read_text()), placeholders(tmp_path))
    (tmp_path / "cluster.toml").write_text(case["inventory"])
    inventory = load_inventory(tmp_path / "cluster.toml")
    facts = {host: {name: Fact(f["output"], f.get("rc", 0)) for name, f in answers.items()}
             for host, answers in case["facts"].items()}
    return case, inventory, facts


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_step_case(path: Path, tmp_path):
    case, inventory, facts = load_case(path, tmp_path)
    expect = case["expect"]

    session, _, _ = fake_session(inventory, facts, limit=case.get("limit"))
    planned = plan_steps(session, [make_step(case)])
    summaries = {host: [c.summary for c in plan.shown()] for per in planned.values() for host, plan in per.items()}
    assert summaries == expect["plans"]

    session, fake, recorder = fake_session(inventory, facts, limit=case.get("limit"))
    run_steps(session, [make_step(case)])
    for host, wanted in expect.get("scripts", {}).items():
        ran = [[c.script, *c.args] for c in fake.by_host(host) if c.script != "write_file.sh"]
        assert ran == wanted, host
    for host, wanted in expect.get("files", {}).items():
        written = dict(c.written() for c in fake.by_host(host) if c.written())
        assert sorted(written) == sorted(wanted), host
        for file, content in wanted.items():
            if isinstance(content, dict):  # {"lines": [...]}: these lines at least, for long generated files
                assert set(content["lines"]) <= set(written[file].splitlines()), (host, file)
            else:
                assert written[file] == content, (host, file)
    untouched = set(inventory.hosts) - set(expect.get("scripts", {})) - set(expect.get("files", {}))
    assert not [c for c in fake.calls if c.host in untouched], "hosts the case expects nothing of ran nothing"
    states = {host: state.value for (host, step), state in recorder.final_states().items()}
    assert states == expect["states"]


def test_an_interrupt_while_facts_are_asked_ends_the_plan_as_interrupted(tmp_path):
    # Hosts the interrupt kept from answering have no facts; deciding on them was a KeyError.
    case, inventory, facts = load_case(Path(__file__).parent / "step_cases" / "hosts_file_fresh.json", tmp_path)
    session, fake, _ = fake_session(inventory, facts)
    session.stopping.set()
    with pytest.raises(Interrupted):
        plan_steps(session, [make_step(case)])
    with pytest.raises(Interrupted):
        run_steps(session, [make_step(case)])
    assert not [c for c in fake.calls if c.script != "facts.sh"], "nothing but facts was asked"
