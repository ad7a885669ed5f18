"""The session's remote calls: a failed command is a failed host unless the caller says why it reads the status."""

from __future__ import annotations

import pytest

from clusterctl.core.channel import CommandResult
from clusterctl.core.session import Outcome
from clusterctl.errors import RemoteCommandError
from clusterctl.events import State
from clusterctl.inventory import load_inventory
from tests.fakes import fake_session


def one_host(tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text('[hosts.node1]\naddress = "10.0.0.1"\n')
    return load_inventory(path)


def failing(call):
    return CommandResult(1, "", "no such file")


def test_a_failed_remote_command_that_nobody_reads_fails_the_host(tmp_path):
    session, _, recorder = fake_session(one_host(tmp_path), {}, answer=failing)

    def work(ctx):
        ctx.run_script("jdk.sh", "link", "/usr/java/default", "/usr/java/jdk-17")  # the result is never looked at
        return Outcome.changed("linked")

    results = session.for_each("jdk", ["node1"], work)
    assert results["node1"].state == State.FAILED
    assert results["node1"].detail == "jdk.sh exited 1: no such file"
    assert recorder.final_states()["node1", "jdk"] == State.FAILED


def test_run_script_raises_on_a_failed_exit(tmp_path):
    session, _, _ = fake_session(one_host(tmp_path), {}, answer=failing)
    seen = []

    def work(ctx):
        with pytest.raises(RemoteCommandError) as raised:
            ctx.run_script("jdk.sh", "exe", "42")
        seen.append(raised.value.result.exited)
        return Outcome.ok()

    session.for_each("jdk", ["node1"], work)
    assert seen == [1]


def test_a_failure_allowed_with_a_reason_is_returned_to_the_caller(tmp_path):
    session, _, _ = fake_session(one_host(tmp_path), {}, answer=failing)
    results = session.for_each("jdk", ["node1"], lambda ctx: Outcome.ok(data=ctx.run_script(
        "jdk.sh", "exe", "42", allow_failure="a server that exited runs no java").exited))
    assert results["node1"].state == State.OK and results["node1"].data == 1


@pytest.mark.parametrize("opt_out", [{"allow_failure": ""}, {"allow_failure": "  "}, {"allow_failure": True},
                                     {"check": False}])
def test_opting_out_of_the_check_without_a_reason_is_refused(tmp_path, opt_out):
    session, fake, _ = fake_session(one_host(tmp_path), {}, answer=failing)
    results = session.for_each("jdk", ["node1"], lambda ctx: ctx.run_script("jdk.sh", "exe", "42", **opt_out))
    assert results["node1"].state == State.FAILED and results["node1"].detail.startswith("TypeError")
    assert not [c for c in fake.calls if c.script == "jdk.sh"], "refused before anything ran"


def test_create_only_writes_take_exit_3_as_the_file_being_there(tmp_path):
    answers = iter([CommandResult(3, "", ""), CommandResult(1, "", "disk full")])
    session, _, _ = fake_session(one_host(tmp_path), {}, answer=lambda call: next(answers))
    results = session.for_each("zk", ["node1"], lambda ctx: Outcome.ok(
        data=ctx.write_file("/var/lib/zookeeper/myid", "1\n", create_only=True)))
    assert results["node1"].data is False
    results = session.for_each("zk", ["node1"], lambda ctx: Outcome.ok(
        data=ctx.write_file("/var/lib/zookeeper/myid", "1\n", create_only=True)))
    assert results["node1"].state == State.FAILED and "disk full" in results["node1"].detail
