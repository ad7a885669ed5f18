"""Making connections: nothing shared between hosts' connections that one of them rebuilds."""

from __future__ import annotations

import sys
import threading

from clusterctl.core.connection import _connection


def test_connections_made_at_once_in_many_threads_all_come_out_whole():
    # Making a Fabric Connection rebuilds its config in place; with one config shared by every host,
    # a connection made at that moment in another thread found no 'gateway' key. Seen on the lab as
    # "gather failed: AttributeError: No attribute or config key found for 'gateway'".
    errors: list[str] = []

    def make(worker: int) -> None:
        try:
            for i in range(300):  # constructing connects nothing: no address here is ever reached
                _connection(f"10.0.{worker}.{i % 250 + 1}", "root", 22, None, None, None)
        except Exception as exc:  # the failure under test, from any thread
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: the race shows within a second
    try:
        threads = [threading.Thread(target=make, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [], errors[:3]
