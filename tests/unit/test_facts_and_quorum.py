"""Fact scripts round-trip through a real shell; quorum arithmetic."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, strategies as st

from clusterctl.core.facts import gather_script, parse_facts
from clusterctl.quorum import failures_tolerated, has_quorum, quorum_size


def run(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout.decode()


def test_each_fact_gets_its_own_output_and_exit_status():
    facts = parse_facts(run(gather_script({"a": "echo one; echo two", "b": "exit 3", "c": "printf x", "d": "cat /nope"})))
    assert facts["a"].output == "one\ntwo\n" and facts["a"].ok
    assert facts["b"].rc == 3 and facts["b"].output == ""
    assert facts["c"].output == "x"
    assert not facts["d"].ok


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x1e'\\"), max_size=40))
def test_arbitrary_output_survives(payload):
    facts = parse_facts(run(gather_script({"p": f"printf '%s' '{payload}'"})))
    assert facts["p"].output == payload


def test_fact_names_are_checked():
    with pytest.raises(ValueError):
        gather_script({"bad name": "true"})


@pytest.mark.parametrize("voters, needed, tolerates", [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)])
def test_runbook_quorum_numbers(voters, needed, tolerates):
    assert quorum_size(voters) == needed
    assert failures_tolerated(voters) == tolerates


@given(st.integers(1, 255), st.integers(0, 255))
def test_quorum_is_more_than_half(voters, up):
    up = min(up, voters)
    assert has_quorum(voters, up) == (2 * up > voters)
