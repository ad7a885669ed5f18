"""zk upgrade's decisions as data: which servers still need the new release, and which releases are refused."""

from __future__ import annotations

import dataclasses

import pytest

from clusterctl.errors import UsageError
from clusterctl.steps import upgrade
from clusterctl.steps.upgrade import ServerRelease
from tests.unit.test_zk_install import INV, RELEASE

NEW = "/opt/apache-zookeeper-3.8.1-bin"


def test_a_server_is_upgraded_when_it_points_at_the_new_release_and_has_restarted_since():
    assert ServerRelease("node2", NEW, True, stale=False).upgraded(NEW)
    assert not ServerRelease("node2", NEW, True, stale=True).upgraded(NEW), "switched, not restarted: resumed"
    assert not ServerRelease("node2", "/opt/apache-zookeeper-3.8.0-bin", True, stale=False).upgraded(NEW)


def test_a_release_unpacking_over_the_running_one_is_refused(monkeypatch):
    monkeypatch.setattr(upgrade.zookeeper, "release", lambda inventory: RELEASE)
    running = RELEASE.directory(INV.zookeeper)
    where = {"node2": ServerRelease("node2", running, unpacked=False, stale=False)}
    with pytest.raises(UsageError, match="an upgrade needs its own directory"):
        upgrade.check_release(INV, where)
    upgrade.check_release(INV, {"node2": dataclasses.replace(where["node2"], unpacked=True)})
    upgrade.check_release(INV, {"node2": ServerRelease("node2", NEW, unpacked=False, stale=False)})
