"""clusterctl's steps as an invoke collection: `invoke ssh-trust --inventory PATH`.

Each task drives the same steps as the click CLI, through the same run (live
display, run log, per-host summary, exit statuses); the only thing here is
argument plumbing. `invoke --list` shows them.
"""

from __future__ import annotations

from invoke import Exit, task

from clusterctl.errors import ClusterctlError, exit_status_for
from clusterctl.run import RunOptions, open_run


def _run(command: str, options: RunOptions, steps) -> None:
    from clusterctl.steps.base import run_steps
    try:
        with open_run(options, command, needs=steps) as run:
            run_steps(run.session, steps)
    except ClusterctlError as exc:
        raise Exit(f"clusterctl: {exc}" if str(exc) else None, code=int(exit_status_for(exc))) from None
    if run.exit_status:
        raise Exit(code=int(run.exit_status))


def _options(inventory, forks, verbose, hosts) -> RunOptions:
    return RunOptions(inventory=inventory, forks=forks, verbose=verbose,
                      hosts=[h for h in (hosts or "").split(",") if h])


@task(help={"inventory": "inventory TOML", "forks": "hosts at once", "hosts": "change only these hosts, comma-separated"})
def ssh_trust(c, inventory=None, forks=32, verbose=False, hosts=None):
    """/etc/hosts block, key pairs, authorized_keys, known_hosts; then the trust is proven."""
    from clusterctl.steps import hosts_file, ssh_trust as trust
    _run("ssh-trust", _options(inventory, forks, verbose, hosts), [hosts_file.HostsFile(), *trust.steps()])


@task(help={"inventory": "inventory TOML", "mode": "direct | relay | pipeline (default: the inventory's)"})
def jdk(c, inventory=None, forks=32, verbose=False, hosts=None, mode=None):
    """Stage, install and check the JDK named in [jdk]."""
    from clusterctl.steps import jdk as jdk_steps
    _run("jdk", _options(inventory, forks, verbose, hosts), jdk_steps.steps(mode))


@task(help={"inventory": "inventory TOML"})
def zookeeper(c, inventory=None, forks=32, verbose=False, hosts=None):
    """Install ZooKeeper (zoo.cfg, myid, profile.d) and start the ensemble until every server serves."""
    from clusterctl.steps import zookeeper as zk
    _run("zookeeper", _options(inventory, forks, verbose, hosts), zk.steps())


@task(help={"inventory": "inventory TOML", "only": "only these steps, comma-separated",
            "skip": "skip these steps, comma-separated"})
def bootstrap(c, inventory=None, forks=32, verbose=False, hosts=None, only=None, skip=None):
    """The whole runbook: network, hosts file, SSH trust, JDK, ZooKeeper, quorum, smoke test."""
    from clusterctl import bootstrap as runbook
    steps = runbook.select_steps([n for n in (only or "").split(",") if n], [n for n in (skip or "").split(",") if n])
    _run("bootstrap", _options(inventory, forks, verbose, hosts), steps)
