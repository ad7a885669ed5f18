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


# The slowest modules, slowest first (as measured with -n 2 under load, 2026-12: test_interrupts and
# test_tls about 15 minutes each, the others 5 to 10; test_sasl_tls 10 to 12.5 with -n 1 beside other runs
# at a load of 11 to 25): scripts/test hands whole modules to its workers in this order
# (--no-loadscope-reorder), so the long ones start at once and the short ones fill in at the end.
SLOWEST_FIRST = ("test_tls.py", "test_interrupts.py", "test_sasl.py", "test_sasl_tls.py", "test_lifecycle.py",
                 "test_no_systemd.py", "test_access.py",
                 "test_backup_schedule.py", "test_lab.py", "test_zookeeper.py", "test_service.py", "test_recover.py",
                 "test_doctor.py", "test_day2.py", "test_backup.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module keeps its order
