"""Helpers for the end-to-end tests: bring a real lab up, run steps on it, look inside its nodes."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

from clusterctl.events import Recorder
from clusterctl.run import RunOptions, open_run
from clusterctl.lab import Lab


@contextmanager
def running_lab(name: str, subnet: str, nodes: int, **up_kwargs):
    """A lab brought up for a block and always torn down after it.

    ``up_kwargs`` go to :meth:`Lab.up`: say init="none" for nodes without a
    service manager, or disk_sizes={"node3": "64m"}.
    """
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


def throttle(lab, node: str, rate: str | None, burst: str = "256kb", latency: str = "500ms") -> None:
    """Limit (or, with None, unlimit) traffic into ``node``: an egress qdisc on its host-side veth."""
    dev = lab.topology.veth(node)
    if rate is None:
        subprocess.run(["tc", "qdisc", "del", "dev", dev, "root"], capture_output=True)
    else:
        subprocess.run(["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", burst,
                        "latency", latency], check=True)
