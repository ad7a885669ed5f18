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


def test_a_fact_that_fails_leaves_the_next_ones_their_own_answers(tmp_path):
    """The facts run in one shell, not one process each: a failing one must not leak into the next."""
    (tmp_path / "a").write_text("x\n")
    facts = gather(query("gone", "file", tmp_path / "nope"), query("dirs", "dirs", tmp_path / "nope"),
                   query("a", "file", tmp_path / "a"), query("who", "whoami"))
    assert facts["a"].output == "x\n" and facts["a"].ok and facts["who"].ok
    assert facts["gone"].rc != 0 and facts["dirs"].rc != 0


def test_free_space_is_of_the_nearest_existing_directory_in_the_order_asked(tmp_path):
    (tmp_path / "d").mkdir()
    asked = [str(tmp_path / "no" / "such" / "dir/"), str(tmp_path / "d"), "/"]
    lines = gather(query("df", "disk_free", *asked))["df"].lines
    assert [line.split(" ")[0] for line in lines] == asked
    assert all(len(line.split(" ")) == 4 and line.split(" ")[1].isdigit() for line in lines)


def test_stat_says_each_path_and_fails_when_one_is_missing(tmp_path):
    (tmp_path / "a").mkdir(mode=0o750)
    (tmp_path / "a").chmod(0o750)
    facts = gather(query("ok", "stat", tmp_path / "a", tmp_path), query("bad", "stat", tmp_path / "a", tmp_path / "no"))
    assert facts["ok"].ok and len(facts["ok"].lines) == 2 and facts["ok"].lines[0].startswith("750 ")
    assert not facts["bad"].ok


def test_a_staged_file_is_hashed_only_without_a_stamp_that_vouches_for_it(tmp_path):
    final, stamp = tmp_path / "pkg.rpm", tmp_path / "pkg.rpm.sha256"
    final.write_bytes(b"abc")
    unstamped = gather(query("s", "staged", final, stamp, 3))["s"].lines
    assert unstamped[:1] == ["size 3"] and any(line.startswith("hash ba7816bf") for line in unstamped)
    stamp.write_text("ba7816bf  pkg.rpm\n\n")
    import os
    os.utime(stamp, ns=(final.stat().st_atime_ns, final.stat().st_mtime_ns))
    (tmp_path / ".pkg.rpm.clusterctl-part").write_bytes(b"ab")
    stamped = gather(query("s", "staged", final, stamp, 3))["s"].lines
    assert "stamp ba7816bf  pkg.rpm" in stamped and not any(line.startswith("hash") for line in stamped)
    assert stamped[1].removeprefix("mtime ") == stamped[2].removeprefix("stamp-mtime ") and "part 2" in stamped


def test_snapshots_and_logs_are_counted_in_every_data_directory(tmp_path):
    for d, names in (("data", ["snapshot.1", "log.1", "acceptedEpoch"]), ("logs", ["log.2"])):
        (tmp_path / d / "version-2").mkdir(parents=True)
        for name in names:
            (tmp_path / d / "version-2" / name).write_text("")
    assert gather(query("n", "zk_data", tmp_path / "data", tmp_path / "logs", tmp_path / "none"))["n"].output == "3\n"


def test_memory_account_and_release_mark_read_without_their_old_helpers(tmp_path):
    facts = gather(query("m", "memory"), query("acct", "account", "root", "root"),
                   query("none", "account", "no-such-user-x", "no-such-group-x"),
                   query("mark", "release_mark", tmp_path, "mark"), query("nomark", "release_mark", tmp_path / "x", "m"))
    assert [line.split(" ")[0] for line in facts["m"].lines] == ["MemTotal", "MemAvailable", "SwapTotal"][:len(
        facts["m"].lines)] and facts["m"].lines[0].split(" ")[1].isdigit()
    assert facts["acct"].lines[0].startswith("user 0 0 ") and facts["acct"].lines[1] == "group 0"
    assert facts["none"].output == "" and facts["none"].ok
    assert facts["mark"].output == "unmarked\n" and facts["nomark"].output == ""
    (tmp_path / "mark").write_text("sha256 " + "a" * 300 + "\n")
    assert gather(query("mark", "release_mark", tmp_path, "mark"))["mark"].output == "mark sha256 " + "a" * 193 + "\n"


def test_who_listens_on_a_port_names_its_process_and_a_free_port_is_free():
    import os
    import socket
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            free = unused.getsockname()[1]
        lines = gather(query("l", "listening", port, free))["l"].lines
    assert lines[1] == f"{free} free"
    listened = lines[0].split(" ")
    assert listened[0] == str(port) and (listened[1] in ("", str(os.getpid())))


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
