"""Settings every test run shares, whichever folder it starts from."""

from __future__ import annotations

import os


def pytest_configure(config):
    # Under pytest-xdist each worker is a process of its own running whole modules, each module bringing
    # up labs: give each worker its own lab names and address plane before any lab is made.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        from tests.lab_helpers import worker_separation
        os.environ.update(worker_separation(worker, os.environ))
