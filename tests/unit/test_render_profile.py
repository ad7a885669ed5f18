"""/etc/profile.d snippets: exact text for the JDK's, and what a shell makes of them."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from clusterctl.render.profile import render_profile_snippet

JAVA_SH = """\
# Managed by clusterctl: edits here are overwritten on the next run.
export JAVA_HOME="/usr/java/default"
case ":$PATH:" in
    *:"/usr/java/default/bin":*) ;;
    *) PATH="/usr/java/default/bin${PATH:+:$PATH}" ;;
esac
export PATH
"""


def source(snippets: list[str], path: str = "/usr/bin:/bin", times: int = 1, show: str = "$PATH") -> str:
    """What `sh` prints for ``show`` after sourcing each snippet ``times`` times."""
    script = "".join(f". /dev/stdin <<'EOF{i}'\n{s}EOF{i}\n" for _ in range(times) for i, s in enumerate(snippets))
    result = subprocess.run(["/bin/sh", "-c", f"{script}printf '%s' \"{show}\""], env={"PATH": path},
                            capture_output=True, text=True, check=True)
    return result.stdout


def test_the_jdk_snippet():
    assert render_profile_snippet({"JAVA_HOME": "/usr/java/default"}, ["/usr/java/default/bin"]) == JAVA_SH


def test_exports_only_has_no_path_handling():
    assert render_profile_snippet({"A": "1"}, []).splitlines()[1:] == ['export A="1"']


def test_additions_go_in_front_of_path_in_the_order_given():
    snippet = render_profile_snippet({}, ["/first/bin", "/second/bin"])
    assert source([snippet]) == "/first/bin:/second/bin:/usr/bin:/bin"


def test_sourcing_twice_changes_nothing_more():
    snippet = render_profile_snippet({"JAVA_HOME": "/usr/java/default"}, ["/usr/java/default/bin"])
    assert source([snippet], times=2) == source([snippet]) == "/usr/java/default/bin:/usr/bin:/bin"


def test_an_entry_already_in_path_is_not_added_again():
    snippet = render_profile_snippet({}, ["/usr/bin"])
    assert source([snippet], path="/bin:/usr/bin") == "/bin:/usr/bin"


def test_an_empty_path_gets_no_stray_colon():
    assert source([render_profile_snippet({}, ["/opt/x/bin"])], path="") == "/opt/x/bin"


def test_additions_may_refer_to_the_exports():
    snippet = render_profile_snippet({"ZOOKEEPER_HOME": "/opt/zookeeper"}, ["$ZOOKEEPER_HOME/bin"])
    assert source([snippet]) == "/opt/zookeeper/bin:/usr/bin:/bin"


def test_two_snippets_side_by_side():
    java = render_profile_snippet({"JAVA_HOME": "/usr/java/default"}, ["/usr/java/default/bin"])
    zk = render_profile_snippet({"ZOOKEEPER_HOME": "/opt/zookeeper"}, ["$ZOOKEEPER_HOME/bin"])
    assert source([java, zk], times=2) == "/opt/zookeeper/bin:/usr/java/default/bin:/usr/bin:/bin"


@settings(max_examples=30, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="$"), max_size=30))
def test_values_reach_the_shell_unchanged(value):
    snippet = render_profile_snippet({"V": value}, [])
    assert source([snippet], show="$V") == value


@pytest.mark.parametrize("name", ["1X", "A-B", "", "A B"])
def test_bad_variable_names_are_refused(name):
    with pytest.raises(ValueError):
        render_profile_snippet({name: "x"}, [])


def test_values_spanning_lines_are_refused():
    with pytest.raises(ValueError):
        render_profile_snippet({"A": "x\ny"}, [])
