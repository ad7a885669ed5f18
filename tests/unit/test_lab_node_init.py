"""How a node boots and shuts down depends on its init; the command line names both choices."""

from __future__ import annotations

import signal

import pytest
from click.testing import CliRunner

from clusterctl.lab import LabError
from clusterctl.lab.cli import lab_group
from clusterctl.lab.node_process import NodeInit, check_init


def test_systemd_is_asked_to_power_off_and_the_minimal_init_to_terminate():
    # SIGTERM would only make systemd re-execute itself.
    assert NodeInit.SYSTEMD.shutdown_signal == signal.SIGRTMIN + 4
    assert NodeInit.NONE.shutdown_signal == signal.SIGTERM


def test_an_unknown_init_is_refused_naming_the_choices():
    assert check_init("none") is NodeInit.NONE
    with pytest.raises(LabError, match="choose one of systemd, none"):
        check_init("upstart")


def test_a_node_disk_that_is_not_node_equals_size_is_a_usage_error_before_anything_is_built():
    result = CliRunner().invoke(lab_group, ["up", "--name", "tlunit", "--node-disk", "node3"])
    assert result.exit_code == 2 and "is not NODE=SIZE" in result.output


def test_reboot_and_crash_are_lab_commands_that_take_nodes_or_all():
    for command in ("reboot", "crash"):
        result = CliRunner().invoke(lab_group, [command, "--help"])
        assert result.exit_code == 0 and "[NODES]..." in result.output and "--all" in result.output
