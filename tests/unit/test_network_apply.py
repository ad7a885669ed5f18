"""net apply as a login user with passworded sudo: the node's confirmation is root's work, and its answer counts."""

from __future__ import annotations

from clusterctl.core.channel import CommandResult
from clusterctl.core.facts import Fact
from clusterctl.events import State
from clusterctl.inventory import load_inventory
from clusterctl.steps.base import run_steps
from clusterctl.steps.network import Network
from tests.fakes import fake_session

FACTS = {"node2": {"network.backend": Fact("ifcfg\n", 0), "network.addresses": Fact("10.89.0.12/24\n", 0),
                   "network.config": Fact("", 1)}}


def deploy_inventory(tmp_path, address="10.89.0.12", ssh_address=None):
    path = tmp_path / "cluster.toml"
    path.write_text(f'[cluster]\nuser = "deploy"\n\n[hosts.node2]\naddress = "{address}"\ninterface = "eth0"\n'
                    f'prefix = 24\n' + (f'ssh_address = "{ssh_address}"\n' if ssh_address else ""))
    return load_inventory(path)


def node(confirms):
    """A node behind passworded sudo whose net.sh confirm answers, in turn, with ``confirms``."""
    confirms = iter(confirms)

    def answer(call):
        if call.script == "become.sh":
            return CommandResult(0, {"probe": "password\n", "check": "ok\n"}[call.action], "")
        if call.script == "net.sh" and call.action == "confirm":
            return next(confirms)
        if call.script == "net.sh" and call.action == "status":
            return CommandResult(0, "rolled-back\n", "")
        return CommandResult(0, "", "")
    return answer


def apply(tmp_path, answer, **inventory):
    session, fake, recorder = fake_session(deploy_inventory(tmp_path, **inventory), FACTS, answer=answer,
                                           become_password="s3cret")
    run_steps(session, [Network(10)])
    events = [e for e in recorder.events if e.kind == "state" and e.host == "node2"]
    return fake, recorder.final_states()["node2", "network"], events[-1].detail


def net_calls(fake):
    return [(c.script, c.action, c.sudo) for c in fake.by_host("node2") if c.script in ("net.sh", "move")]


def test_the_confirmation_goes_through_sudo_at_the_new_address(tmp_path):
    fake, state, detail = apply(tmp_path, node([CommandResult(0, "confirmed\n", "")]))
    assert state == State.CHANGED and detail == "10.89.0.12/24 via ifcfg, reached at the new address"
    assert net_calls(fake) == [("net.sh", "launch", True), ("move", "10.89.0.12", False),
                               ("net.sh", "confirm", True)]


def test_a_failed_confirmation_is_a_failed_host_with_the_reason_and_the_nodes_verdict(tmp_path):
    fake, state, detail = apply(tmp_path, node([CommandResult(1, "", "sudo: a password is required")]))
    assert state == State.FAILED
    assert detail == ("reached 10.89.0.12, but the confirmation failed: net.sh confirm exited 1: "
                      "sudo: a password is required; the node rolled back")
    assert ("net.sh", "status", True) in net_calls(fake), "the verdict is read as root: the state dir is root's"


def test_a_confirmation_before_the_new_config_is_live_is_asked_again(tmp_path):
    fake, state, _ = apply(tmp_path, node([CommandResult(3, "", "net.sh: the new config is not live yet"),
                                           CommandResult(0, "confirmed\n", "")]))
    assert state == State.CHANGED
    assert [a for s, a, _ in net_calls(fake) if s == "net.sh"] == ["launch", "confirm", "confirm"]


def test_a_node_not_reached_at_its_new_address_is_read_at_its_old_one(tmp_path):
    answer = node([])
    session, fake, recorder = fake_session(deploy_inventory(tmp_path, "10.89.0.99", "10.89.0.12"), FACTS,
                                           answer=answer, become_password="s3cret")
    fake.reachable = lambda host, address: address == "10.89.0.12"
    run_steps(session, [Network(5)])
    assert recorder.final_states()["node2", "network"] == State.FAILED
    assert net_calls(fake) == [("net.sh", "launch", True), ("move", "10.89.0.99", False),
                               ("move", "10.89.0.12", False), ("net.sh", "status", True)]
