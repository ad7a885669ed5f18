"""The fact vocabulary (remote/facts.sh) round-trips through a real shell; quorum arithmetic."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from clusterctl.core.facts import FactQuery, gather_args, parse_facts, query
from clusterctl.quorum import failures_tolerated, has_quorum, quorum_size
from tests.fakes import run_locally


def gather(*queries: FactQuery, env=None):
    return parse_facts(run_locally("facts.sh", *gather_args(list(queries)), env=env).stdout.decode("utf-8", "replace"))


def test_each_fact_gets_its_own_output_and_exit_status(tmp_path):
    (tmp_path / "a").write_text("one\ntwo\n")
    (tmp_path / "d").mkdir()
    facts = gather(query("a", "file", tmp_path / "a"), query("b", "file", tmp_path / "nope"),
                   query("c", "dirs", tmp_path / "d"), query("d", "dirs", tmp_path / "d", tmp_path / "a"),
                   query("e", "link", tmp_path / "a"), query("f", "no_such_kind"))
    assert facts["a"].output == "one\ntwo\n" and facts["a"].ok
    assert not facts["b"].ok and facts["b"].output == ""
    assert facts["c"].ok and not facts["d"].ok
    assert facts["e"].output == "other\n"
    assert facts["f"].rc == 127, "an unknown kind fails that fact alone"


def test_a_path_under_home_is_the_connecting_users(tmp_path):
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA x\n")
    facts = gather(query("k", "file", "~/.ssh/authorized_keys"), env={"HOME": str(tmp_path)})
    assert facts["k"].output == "ssh-ed25519 AAAA x\n"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x1e", b"").replace(b"\r", b"")))
def test_arbitrary_file_content_survives(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(content)
        facts = gather(query("p", "file", path))
    assert facts["p"].output == content.decode("utf-8", "replace")


def test_arguments_are_never_interpreted_by_a_shell(tmp_path):
    hostile = str(tmp_path / "$(touch pwned); `touch pwned2`")
    facts = gather(query("p", "file", hostile), query("q", "commands", "; touch pwned3"))
    assert not facts["p"].ok and not facts["q"].ok
    assert not any(tmp_path.glob("pwned*")) and not any(Path.cwd().glob("pwned*"))


def test_fact_names_and_kinds_are_checked():
    with pytest.raises(ValueError):
        query("bad name", "file")
    with pytest.raises(ValueError):
        query("ok", "bad;kind")


@pytest.mark.parametrize("voters, needed, tolerates", [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)])
def test_runbook_quorum_numbers(voters, needed, tolerates):
    assert quorum_size(voters) == needed
    assert failures_tolerated(voters) == tolerates


@given(st.integers(1, 255), st.integers(0, 255))
def test_quorum_is_more_than_half(voters, up):
    up = min(up, voters)
    assert has_quorum(voters, up) == (2 * up > voters)
