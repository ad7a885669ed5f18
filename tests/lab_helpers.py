"""Helpers for the end-to-end tests: bring a real lab up, run steps on it, look inside its nodes."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Callable

from clusterctl.events import Recorder
from clusterctl.run import RunOptions, open_run
from clusterctl.lab import Lab


def separate(name: str, subnet: str) -> tuple[str, str]:
    """The lab's name and subnet for this test run: a second run on the same machine (another checkout, a
    developer beside CI) sets CLUSTERCTL_TEST_LAB_PREFIX (a letter) and either CLUSTERCTL_TEST_SUBNET_PLANE
    (a second octet of its own, say 232: every lab moves from 10.231.x to 10.232.x, so no two runs can
    collide whatever tests they pick) or CLUSTERCTL_TEST_SUBNET_OFFSET (added to the third octet) so that
    its labs never share a name or an address with the first run's."""
    prefix = os.environ.get("CLUSTERCTL_TEST_LAB_PREFIX", "")
    plane = os.environ.get("CLUSTERCTL_TEST_SUBNET_PLANE", "")
    offset = int(os.environ.get("CLUSTERCTL_TEST_SUBNET_OFFSET", "0"))
    a, b, c, rest = subnet.split(".", 3)
    subnet = f"{a}.{int(plane) if plane else b}.{int(c) + offset}.{rest}"
    return prefix + name, subnet


BASE_PLANE = 231  # the second octet of every e2e lab's subnet as written in the tests


def worker_separation(worker: str, environ: dict[str, str]) -> dict[str, str]:
    """What ``separate`` reads, set for one pytest-xdist worker (gw0, gw1, ...) so that two workers
    never share a lab name or an address: the worker's letter (gw0 a, gw1 b, ...) after the run's own
    prefix, and the run's plane (CLUSTERCTL_TEST_SUBNET_PLANE, else 231) plus the worker's number.
    gw0 keeps the run's plane: a run on one worker has the addresses it would have without xdist."""
    index = int(worker.removeprefix("gw"))
    plane = int(environ.get("CLUSTERCTL_TEST_SUBNET_PLANE") or BASE_PLANE) + index
    if index > 25 or plane > 255:
        raise ValueError(f"worker {worker} has no lab plane of its own (plane {plane}): run fewer workers")
    return {"CLUSTERCTL_TEST_LAB_PREFIX": environ.get("CLUSTERCTL_TEST_LAB_PREFIX", "") + chr(ord("a") + index),
            "CLUSTERCTL_TEST_SUBNET_PLANE": str(plane)}


@contextmanager
def running_lab(name: str, subnet: str, nodes: int, *, fixed: bool = False, **up_kwargs):
    """A lab brought up for a block and always torn down after it.

    ``up_kwargs`` go to :meth:`Lab.up`: say init="none" for nodes without a
    service manager, or disk_sizes={"node3": "64m"}. ``fixed``: this name
    and subnet as given, never moved for a parallel run (test_lab's, which
    checks addresses and drives the lab by name; no other lab uses them).
    """
    if not fixed:
        name, subnet = separate(name, subnet)
    lab = Lab(name=name, subnet=subnet)
    lab.down()  # a previous crashed run may have left it
    try:
        lab.up(nodes=nodes, **up_kwargs)
        yield lab
    finally:
        lab.down()


def run_steps(inventory_path, *steps, password=None, hosts=None):
    """Run steps through a real session; return (exit status, recorder, results).

    Each of ``steps`` is a Step, a list of Steps (run together, as a command
    does), or a function of the session; results holds what each returned.
    """
    from clusterctl.steps.base import Step, run_steps as drive
    options = RunOptions(inventory=str(inventory_path), live=False, hosts=hosts or [])
    recorder = Recorder()
    results = []
    old = os.environ.get("CLUSTERCTL_SSH_PASSWORD")
    if password:
        os.environ["CLUSTERCTL_SSH_PASSWORD"] = password
    try:
        with open(os.devnull, "w") as devnull, open_run(options, "test", out=devnull) as run:
            run.reporter.add(recorder)
            for step in steps:
                if isinstance(step, Step):
                    step = [step]
                if isinstance(step, list):
                    results.append(drive(run.session, step))
                else:
                    results.append(step(run.session))
    finally:
        if password:
            if old is None:
                os.environ.pop("CLUSTERCTL_SSH_PASSWORD", None)
            else:
                os.environ["CLUSTERCTL_SSH_PASSWORD"] = old
    return run.exit_status, recorder, results


def inside(lab, node: str, script: str, check: bool = True) -> str:
    """Run a shell script inside a lab node; its stdout."""
    result = lab.exec(node, ["bash", "-c", script], check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{node}: {script!r} exited {result.returncode}: {result.stderr.decode()}")
    return result.stdout.decode()


# The pid of the node's ZooKeeper server: the unit's main process under systemd, else zkServer.sh's pid file.
SERVER_PID = ("{ systemctl show -p MainPID --value zookeeper 2>/dev/null | grep -vx 0; } "
              "|| cat /var/lib/zookeeper/zookeeper_server.pid 2>/dev/null || true")


def throttle(lab, node: str, rate: str | None, burst: str = "256kb", latency: str = "500ms") -> None:
    """Limit (or, with None, unlimit) traffic into ``node``: an egress qdisc on its host-side veth."""
    dev = lab.topology.veth(node)
    if rate is None:
        subprocess.run(["tc", "qdisc", "del", "dev", dev, "root"], capture_output=True)
    else:
        subprocess.run(["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", burst,
                        "latency", latency], check=True)


class Writer:
    """A ZooKeeper client writing sequential znodes all along a block; afterwards, every acknowledged one is read back.

    Data safety is proven, not assumed: an operation on a live ensemble runs
    inside ``with Writer(hosts) as writer:``, then ``writer.lost()`` must be
    empty. A write that raised was not acknowledged and may or may not exist.
    """

    def __init__(self, hosts: str, path: str = "/clusterctl-test-writes", pace: float = 0.005,
                 client_options: dict | None = None):
        import threading
        self.hosts, self.path, self.pace = hosts, path, pace
        self.client_options = client_options or {}  # kazoo's: use_ssl, certfile, keyfile, ca for a TLS client
        self.acked: list[tuple[str, bytes]] = []
        self.acked_at: list[float] = []
        self.errors: list[str] = []
        self.errors_at: list[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def _client(self):
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.hosts, timeout=10, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1},
                         **self.client_options)
        zk.start(timeout=30)
        return zk

    def _write(self) -> None:
        import time
        zk = self._client()
        try:
            zk.ensure_path(self.path)
            deadline = time.monotonic() + 900  # bounded even if the test body never stops it
            n = 0
            while not self._done.is_set() and time.monotonic() < deadline:
                data = str(n).encode()
                try:
                    self.acked.append((zk.create(f"{self.path}/w-", data, sequence=True), data))
                    self.acked_at.append(time.monotonic())
                except Exception as exc:  # not acknowledged: it may or may not have happened
                    self.errors.append(type(exc).__name__)
                    self.errors_at.append(time.monotonic())
                    time.sleep(0.05)
                n += 1
                time.sleep(self.pace)
        finally:
            zk.stop()
            zk.close()

    def __enter__(self) -> "Writer":
        import time
        self._thread.start()
        deadline = time.monotonic() + 60
        while len(self.acked) < 10 and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)
        assert len(self.acked) >= 10, f"the writer could not write before the operation ({self.errors[-3:]})"
        return self

    def __exit__(self, *exc) -> None:
        import time
        time.sleep(0.5)
        self._done.set()
        self._thread.join(60)

    def longest_stall(self) -> float:
        """The longest time, in seconds, between two acknowledged writes."""
        times = self.acked_at
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def lost(self) -> list[str]:
        """The acknowledged writes that are not there, read back after a sync."""
        zk = self._client()
        try:
            zk.sync(self.path)
            return [path for path, data in self.acked if not zk.exists(path) or zk.get(path)[0] != data]
        finally:
            zk.stop()
            zk.close()


def wait_for_status(status: Callable[[], tuple[int, dict]], exit_code: int, voters_up: int,
                    timeout: float = 60) -> dict:
    """Poll ``status`` (`zk status --json`: exit code, report) until it exits ``exit_code`` counting
    ``voters_up`` voters in the quorum; the last report.

    Both, because the exit status turns when the quorum count does, while voters left behind still
    call themselves followers until they notice the leader is gone (syncLimit ticks), and voters
    left by a stopped leader have no quorum until they elect another.
    """
    deadline = time.monotonic() + timeout
    while True:
        code, report = status()
        if (code, report["quorum"]["up"]) == (exit_code, voters_up) or time.monotonic() > deadline:
            assert (code, report["quorum"]["up"]) == (exit_code, voters_up), report
            return report
        time.sleep(0.5)


class ArgvSampler:
    """Every process's command line on every node, sampled all along a block."""

    def __init__(self, lab, nodes):
        self.lab, self.nodes, self.seen = lab, nodes, set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.is_set():
            for node in self.nodes:
                self.seen.update(inside(self.lab, node, "ps -eo args= || true", check=False).splitlines())
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(30)
