"""plan names the checks a run would make, as the run decides them: a check runs where the steps before it
change something (or always, when asked with --verify)."""

from __future__ import annotations

from clusterctl.bootstrap import runbook
from clusterctl.inventory import load_inventory
from clusterctl.plan import Change
from clusterctl.steps.base import HostPlan, planned_checks
from test_inventory import write, zk_inventory

SERVERS = "node2 = 1\nnode3 = 2\nnode4 = 3"


def inventory(tmp_path):
    text = zk_inventory(tmp_path, SERVERS) + '[jdk]\npackage = "jdk.rpm"\n'
    return load_inventory(write(tmp_path, text))


def changing(step: str, *hosts: str) -> dict[str, dict[str, HostPlan]]:
    return {step: {h: HostPlan(changes=[Change("something", change=True)]) for h in hosts}}


def checks(tmp_path, planned, **options) -> dict[str, str]:
    return dict(planned_checks(inventory(tmp_path), runbook(**options), planned))


def test_nothing_planned_skips_the_proofs_and_the_smoke_test_but_still_finds_java(tmp_path):
    said = checks(tmp_path, {})
    assert said["verify-ssh"].startswith("not run") and "--verify" in said["verify-ssh"]
    assert said["zk-smoke"].startswith("not run")
    assert "java -version" not in said["jdk-verify"] and "login shell" in said["jdk-verify"]


def test_a_changed_trust_file_brings_the_proof_and_a_changed_jdk_its_java_version(tmp_path):
    said = checks(tmp_path, {**changing("ssh-trust", "node1"), **changing("jdk-install", "node3")})
    assert "by name, without a prompt" in said["verify-ssh"] and "ring" in said["verify-ssh"]
    assert said["jdk-verify"].endswith("java -version runs on node3 (its JDK changes)")
    assert "reads back the same through every other" in said["zk-smoke"]


def test_a_notes_only_plan_is_no_change(tmp_path):
    notes_only = {"zookeeper": {"node2": HostPlan(notes=["not supervised"])}}
    assert checks(tmp_path, notes_only)["zk-smoke"].startswith("not run")


def test_verify_runs_every_check(tmp_path):
    said = checks(tmp_path, {}, verify=True, verify_ssh="full")
    assert "logs in to every other" in said["verify-ssh"] and "not run" not in said["zk-smoke"]
