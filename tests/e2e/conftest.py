"""Shared fixtures for end-to-end tests on real lab hosts (namespaced nodes with real sshd)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the lab needs root (network and mount namespaces)")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Path]:
    """Real JDK packages and a ZooKeeper release built from this machine's packages (cached)."""
    from clusterctl.lab.artifacts import ensure_artifacts
    cache = Path(os.environ.get("CLUSTERCTL_ARTIFACTS_CACHE", REPO / "artifacts"))
    return ensure_artifacts(cache)


__all__ = ["artifacts"]
