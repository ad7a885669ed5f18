"""clusterctl zk install|start|stop|restart|status|cli|smoke."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from ..core.session import HostContext, Outcome
from ..display import human_bytes, labelled, make_console, show_plan
from ..errors import ClusterctlError, EnsembleNotReady, HostsFailed, NoQuorum, Unhealthy, UsageError
from ..inventory import Inventory
from ..run import load, open_run
from ..steps import backup, membership, recover, upgrade, zookeeper
from ..steps.base import run_steps
from ..zk.server import home, java_home
from .options import confirmation, dry_run_option, run_options
from .planning import show_steps_plan
from .status_view import show_status

# zkCli's INFO lines would bury a command's output and garble the interactive prompt.
QUIET_CLIENT = "-Dzookeeper.console.threshold=WARN -Dzookeeper.root.logger=WARN,CONSOLE"


@click.group("zk")
def zk_group() -> None:
    """The ZooKeeper ensemble: install, start, stop, restart, status, doctor, zkCli, smoke test, and membership."""


def _finish(run) -> None:
    if run.exit_status:
        raise HostsFailed(run.exit_status)


def show_dry_run(run, plan) -> None:
    """A day-2 command's plan, as ``plan`` shows the runbook's; then that nothing was changed."""
    show_plan(run.console, plan.steps)
    run.console.print("dry run: nothing was changed")


def _nodes(inventory: Inventory, nodes: tuple[str, ...]) -> list[str] | None:
    """The servers NODE arguments name (checked), else None: every server, as --hosts narrows them."""
    return zookeeper.servers(inventory, nodes) if nodes else None


@zk_group.command("install")
@run_options
@dry_run_option
@click.argument("nodes", nargs=-1)
def zk_install(options, nodes: tuple[str, ...], dry_run: bool) -> None:
    """Release, account, zoo.cfg, java.env, unit, data dirs and myid on the servers (all, or NODE...).

    Starts nothing; a server that runs outside zookeeper.service (set up by zkServer.sh, as root)
    is converted by a rolling restart, leader last, keeping the quorum.
    """
    inventory = load(options)
    hosts = _nodes(inventory, nodes)
    # A server still running outside the service (set up before it) is converted, one at a time.
    from ..steps.tls import ZkTlsCerts
    steps = [zookeeper.ZkStage(hosts), zookeeper.ZkInstall(hosts), ZkTlsCerts(hosts),
             zookeeper.ZkRoll("migrate", hosts=hosts)]
    if dry_run:
        return show_steps_plan(options, "zk-install", steps, dry_run=True)
    with open_run(options, "zk-install", inventory=inventory, needs=steps) as run:
        run_steps(run.session, steps)
    _finish(run)


@zk_group.command("start")
@run_options
@dry_run_option
@click.argument("nodes", nargs=-1)
@click.option("--timeout", type=click.FloatRange(1, 3600), default=zookeeper.START_TIMEOUT, show_default=True,
              help="Seconds to wait until every server started serves clients.")
def zk_start(options, nodes: tuple[str, ...], timeout: float, dry_run: bool) -> None:
    """Start the servers (all, or NODE...) and wait until every one of them serves clients, caught up."""
    if dry_run:
        return show_steps_plan(options, "zk-start", [zookeeper.ZkStart(_nodes(load(options), nodes), timeout)],
                               dry_run=True)
    try:
        with open_run(options, "zk-start") as run:
            done = run_steps(run.session, [zookeeper.ZkStart(_nodes(run.inventory, nodes), timeout)])
    except EnsembleNotReady as exc:
        show_status(run.console, exc.status)
        raise
    result = done.outputs.get(zookeeper.START_STEP)
    if result is not None:
        from rich.text import Text  # rich: imported where it draws (see display)
        show_status(run.console, result.waited.status)
        run.console.print(Text(result.elected))
    _finish(run)


@zk_group.command("stop")
@run_options
@dry_run_option
@click.argument("nodes", nargs=-1)
def zk_stop(options, nodes: tuple[str, ...], dry_run: bool) -> None:
    """Stop the servers (all, or NODE...) and wait until each has exited."""
    with open_run(options, "zk-stop", dry_run=dry_run) as run:
        plan = zookeeper.plan_stop(run.session, _nodes(run.inventory, nodes))
        if dry_run:
            show_dry_run(run, plan)
        else:
            zookeeper.stop(run.session, plan)
    _finish(run)


@zk_group.command("restart")
@run_options
@dry_run_option
@click.option("--rolling", is_flag=True, help="One server at a time, leader last, each back in sync first.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=zookeeper.START_TIMEOUT, show_default=True,
              help="Seconds to wait for the ensemble (rolling: for each server).")
def zk_restart(options, rolling: bool, timeout: float, dry_run: bool) -> None:
    """Restart the servers (all, or those of --hosts): all at once, or --rolling without losing the quorum.

    A rolling restart is refused (exit 4, nothing restarted) unless the
    ensemble can lose one more voter and keep its quorum.
    """
    try:
        with open_run(options, "zk-restart", dry_run=dry_run) as run:
            plan = zookeeper.plan_restart(run.session, rolling=rolling)
            if dry_run:
                show_dry_run(run, plan)
                return
            result = zookeeper.restart(run.session, plan, timeout=timeout)
    except EnsembleNotReady as exc:
        show_status(run.console, exc.status)
        raise
    status = result.after if rolling else result.waited.status
    if status is not None:
        show_status(run.console, status)
    _finish(run)


def _membership(options, action: str, names: list[str], timeout: float, confirm: bool, dry_run: bool) -> None:
    """Run one membership command (or show its plan); the ensemble as it stands afterwards."""
    inventory = load(options)
    membership.check_request(inventory, action, names)
    ask = confirmation(options, confirm)
    # A dry run, as plan, says what it cannot compare without a package; the change itself needs them.
    needs = [] if dry_run else membership.needs(action)
    with open_run(options, f"zk-{action}", inventory=inventory, dry_run=dry_run, needs=needs) as run:
        decided = membership.plan(run.session, action, names)
        if dry_run:
            show_dry_run(run, decided)
            return
        membership.change(run.session, decided, timeout=timeout, confirm=ask)
        after = None if run.session.stopping.is_set() else zookeeper.status(run.session)
    if after is not None:
        show_status(run.console, after)
    _finish(run)


def membership_options(command):
    command = dry_run_option(command)
    command = click.option("--confirm", is_flag=True, help="Ask before each server's change.")(command)
    return click.option("--timeout", type=click.FloatRange(1, 3600), default=membership.DEFAULT_TIMEOUT,
                        show_default=True, help="Seconds for each server to start, join and catch up.")(command)


@zk_group.command("add")
@run_options
@membership_options
@click.argument("nodes", nargs=-1, required=True)
def zk_add(options, nodes: tuple[str, ...], timeout: float, confirm: bool, dry_run: bool) -> None:
    """Add servers listed in [zookeeper.servers] to the running ensemble, one at a time.

    Every host is converged first as bootstrap would (names, JDK, release,
    config; nothing restarts), then each new server is started, added by
    reconfig as the super user, confirmed by a committed write, and waited
    for until it serves, caught up, before the next. Voters and observers
    alike. Refused (exit 4, nothing changed) without a quorum.
    """
    _membership(options, "add", list(nodes), timeout, confirm, dry_run)


@zk_group.command("remove")
@run_options
@membership_options
@click.argument("nodes", nargs=-1, required=True)
def zk_remove(options, nodes: tuple[str, ...], timeout: float, confirm: bool, dry_run: bool) -> None:
    """Remove servers no longer in [zookeeper.servers] from the running ensemble, one at a time.

    Refused before anything changes (exit 4) when the remaining voters could
    not keep a quorum with the servers down now, or would be left unable to
    lose one more. Servers that are down go first, the leader last. Each is
    reconfigured out (a committed write confirms it), then stopped, disabled,
    and its data, myid and membership files moved to <data_dir>.removed-<time>
    (never deleted). Keep NODE in [hosts] until then.
    """
    _membership(options, "remove", list(nodes), timeout, confirm, dry_run)


@zk_group.command("replace")
@run_options
@membership_options
@click.argument("dead")
@click.argument("new")
def zk_replace(options, dead: str, new: str, timeout: float, confirm: bool, dry_run: bool) -> None:
    """Move DEAD's place in the ensemble to NEW: NEW added (with its own id), then DEAD removed.

    In the inventory, NEW replaces DEAD in [zookeeper.servers] first. The
    quorum is checked through both changes before either is made.
    """
    _membership(options, "replace", [dead, new], timeout, confirm, dry_run)


@zk_group.command("promote")
@run_options
@membership_options
@click.argument("nodes", nargs=-1, required=True)
def zk_promote(options, nodes: tuple[str, ...], timeout: float, confirm: bool, dry_run: bool) -> None:
    """Make observers voters (the inventory says so first: no observer = true), one at a time."""
    _membership(options, "promote", list(nodes), timeout, confirm, dry_run)


@zk_group.command("demote")
@run_options
@membership_options
@click.argument("nodes", nargs=-1, required=True)
def zk_demote(options, nodes: tuple[str, ...], timeout: float, confirm: bool, dry_run: bool) -> None:
    """Make voters observers (the inventory says observer = true first), one at a time, keeping a quorum."""
    _membership(options, "demote", list(nodes), timeout, confirm, dry_run)


@zk_group.command("upgrade")
@run_options
@dry_run_option
@click.option("--package", "package", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The new release tarball (default: the inventory's [zookeeper] package).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=upgrade.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds for each server to serve on the new release before it is rolled back.")
@click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, help="Seconds to wait between servers.")
@click.option("--confirm", is_flag=True, help="Ask before each server.")
@click.option("--cleanup", is_flag=True, help="Afterwards (or alone, without --package), remove the releases "
                                              "no server runs from.")
def zk_upgrade(options, package: Path | None, timeout: float, pause: float, confirm: bool, cleanup: bool,
               dry_run: bool) -> None:
    """Roll a new ZooKeeper release onto the running ensemble, rolling a server back by itself if it fails.

    The release is staged and unpacked on every server first (no server is
    touched if that fails anywhere); the leader's snapshots and logs are
    copied; then one server at a time, followers first and the leader last,
    each while the ensemble can lose one more voter: its config copied, its
    ZOOKEEPER_HOME switched, restarted, and waited for until it serves,
    caught up. One that does not within --timeout is switched back to its
    previous release and config and restarted, and the upgrade stops (exit
    1). Run again after an interrupt or a failure, it goes on where it
    stopped. The previous release stays on disk until --cleanup.
    """
    inventory = load(options)
    zookeeper.servers(inventory)
    if package is None and cleanup:
        if dry_run:
            raise UsageError("--dry-run with --cleanup alone: nothing to plan; give --package to plan an upgrade")
        with open_run(options, "zk-cleanup", inventory=inventory) as run:
            upgrade.cleanup(run.session)
        _finish(run)
        return
    target = upgrade.with_package(inventory, package)
    package = target.zookeeper.package.resolve()

    ask = confirmation(options, confirm)
    with open_run(options, "zk-upgrade", inventory=target, dry_run=dry_run) as run:
        decided = upgrade.plan_upgrade(run.session, timeout=timeout)
        if dry_run:
            show_dry_run(run, decided)
            return
        result = upgrade.upgrade(run.session, decided, timeout=timeout, pause=pause, confirm=ask)
        if cleanup and not run.session.failures and not result.rolled_back:
            upgrade.cleanup(run.session)
        after = None if run.session.stopping.is_set() else zookeeper.status(run.session)
    if after is not None:
        show_status(run.console, after)
    if package != inventory.zookeeper.package.resolve() and not run.exit_status:
        run.console.print(labelled("note:", "yellow", f"{inventory.path} still names {inventory.zookeeper.package}: "
                                   f"set [zookeeper] package = \"{package}\" there, or the next apply would install "
                                   f"it again"))
    _finish(run)


@zk_group.command("backup")
@run_options
@dry_run_option
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="A new directory for the backup (default: ~/.local/state/clusterctl/backups/<cluster>/<time>).")
@click.option("--schedule", "every", type=click.Choice(["daily", "hourly", "off"]),
              help="Instead of a backup now: a systemd timer on a server node that takes them there "
                   "(into /var/backups/zookeeper/<cluster>/<time>/); off removes it.")
@click.option("--keep", type=click.IntRange(1), help="With --schedule: how many of the node's backups to keep.")
@click.option("--on", "on", metavar="HOST",
              help="With --schedule: the server node that takes them (default: an observer, else a follower).")
def zk_backup(options, to: Path | None, every: str | None, keep: int | None, on: str | None,
              dry_run: bool) -> None:
    """Copy the ensemble's data to this machine: a consistent, checked backup; no server stops.

    From a server that serves under the leader (an observer or a follower
    first, the leader only when no other serves): its newest complete
    snapshot and the transaction logs to replay past it, streamed here with
    their sha256, then loaded with ZooKeeper's own classes on that server
    (in a scratch directory) to prove the copy and count its znodes. Only
    then is manifest.json written. Writes after the copy are not in it.

    With --schedule daily|hourly --keep N the same backup is taken on a
    server node by a systemd timer there, the newest N kept (refused on a
    node without systemd); --schedule off removes the timer (not the backups).
    """
    if every is None and (keep is not None or on is not None):
        raise UsageError("--keep and --on go with --schedule daily|hourly")
    if every is not None and to is not None:
        raise UsageError("--to is for a backup taken now; a scheduled one goes to /var/backups/zookeeper on its node")
    if every is not None:
        return _schedule(options, every, keep, on, dry_run)
    with open_run(options, "zk-backup", dry_run=dry_run) as run:
        decided = backup.plan_backup(run.session, to)
        if dry_run:
            show_dry_run(run, decided)
            return
        done = backup.backup(run.session, decided)
    from rich.text import Text  # rich: imported where it draws (see display)
    m = done.manifest
    run.console.print(Text(f"backup: {done.path}\n  from {m.server}, zxid {m.snapshot_zxid}..{m.last_zxid}, "
                           f"{m.znodes} znodes, {len(m.files)} files, {human_bytes(m.size)}; checked by "
                           f"ZooKeeper {m.zookeeper_version.split(',')[0]}"))
    _finish(run)


def _schedule(options, every: str, keep: int | None, on: str | None, dry_run: bool) -> None:
    from ..steps import backup_schedule
    with open_run(options, "zk-backup-schedule", dry_run=dry_run) as run:
        decided = backup_schedule.plan_schedule(run.session, every, keep, on)
        if dry_run:
            show_dry_run(run, decided)
            return
        backup_schedule.apply_schedule(run.session, decided)
    from rich.text import Text  # rich: imported where it draws (see display)
    w = decided.wanted
    already = "" if any(c.changes for c in decided.changes.values()) else " (already so: nothing changed)"
    run.console.print(Text(f"scheduled backups: off{already}" if w is None else
                           f"scheduled backups: {w.every} on {w.host}, the newest {w.keep} kept in "
                           f"/var/backups/zookeeper/{run.inventory.cluster.name}/{already}"))
    _finish(run)


def ask_on_a_terminal(options, answered: bool, what: str) -> None:
    """Unless ``answered`` (--yes, --dry-run), the command will ask: refused (exit 2, nothing touched)
    without a terminal, and the live grid is off so that the question can be read."""
    if answered:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{what}: confirm on a terminal, or pass --yes")
    options.live = False


@zk_group.command("restore")
@run_options
@dry_run_option
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask: stop every server and restore (needed without a terminal).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=zookeeper.START_TIMEOUT, show_default=True,
              help="Seconds for the ensemble to serve again after the restore.")
@click.option("--into", "into", metavar="NEW-INVENTORY",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Restore into the ensemble of this inventory (bootstrapped), which may be another than the "
                   "backup's: another cluster, other servers. Used instead of -i.")
def zk_restore(options, backup_dir: Path, yes: bool, timeout: float, into: Path | None, dry_run: bool) -> None:
    """Put the ensemble back to BACKUP (a directory zk backup made): every server stops, then restarts on it.

    Into the ensemble the backup was taken from, or with --into NEW-INVENTORY
    into that inventory's (a fresh one, say): its data, not its membership.
    Every server is
    stopped first (no client writes into a half-restored ensemble); each
    one's data directory is moved aside to <data_dir>.before-restore-<time>
    (never deleted) and made anew with the backup's files, checked by
    sha256; the servers are started and waited for until they serve with a
    leader, and every znode of the backup is read back. Everything written
    after the backup was taken is gone from the ensemble (it stays in the
    directories moved aside). Asks first unless --yes.
    """
    ask_on_a_terminal(options, yes or dry_run, "zk restore stops every server and replaces its data")
    if into is not None:
        options.inventory = str(into)
    with open_run(options, "zk-restore", dry_run=dry_run) as run:
        decided = backup.plan_restore(run.session, backup_dir, into=into is not None)
        if dry_run:
            show_dry_run(run, decided)
            return
        if not yes:
            show_plan(run.console, decided.steps)
            if not click.confirm(f"restore {decided.manifest.cluster} to {decided.manifest.last_zxid}, losing "
                                 f"every write made after it?", default=False, err=True):
                run.console.print("not restored: nothing was changed")
                return
        result = backup.restore(run.session, decided, timeout=timeout)
    show_status(run.console, result.started.waited.status)
    from rich.text import Text  # rich: imported where it draws (see display)
    run.console.print(Text(f"restored to {decided.manifest.last_zxid}: all {result.checked} znodes of the backup "
                           f"read back; the data from before is kept in "
                           f"{', '.join(sorted(set(result.aside.values())))}"))
    _finish(run)


@zk_group.command("recover")
@run_options
@dry_run_option
@click.option("--yes", is_flag=True, help="Do not ask: rebuild the ensemble (needed without a terminal).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=membership.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds for each server to start, join and catch up.")
def zk_recover(options, yes: bool, timeout: float, dry_run: bool) -> None:
    """Rebuild an ensemble that lost its quorum for good from its most recent surviving server.

    Refused (exit 4, nothing changed) while a quorum of the running
    membership is up (zk replace is the tool then) or could elect itself.
    Reads every surviving server's last zxid offline from its data, with
    the release's own classes, and recovers to the highest: writes
    acknowledged after it, which only the lost servers had, cannot be known
    and are lost. Asks first unless --yes. Every surviving server stops; the
    chosen one comes back alone on its own data (its membership files moved
    to <data_dir>.before-recover-<time>); each other server whose node
    answers has its data moved there too (never deleted) and is added back
    as zk add would. Run it again once the lost nodes are back: it sets
    their old data aside and adds them.
    """
    ask_on_a_terminal(options, yes or dry_run, "zk recover stops every surviving server and rebuilds the "
                                               "ensemble from one of them")
    with open_run(options, "zk-recover", dry_run=dry_run) as run:
        decided = recover.plan_recover(run.session)
        verdict = decided.verdict
        from rich.text import Text  # rich: imported where it draws (see display)
        if verdict.mode == "recover":
            run.console.print(Text(f"zk recover: {verdict.honesty()}."))
        if dry_run:
            show_dry_run(run, decided)
            return
        if not yes:
            show_plan(run.console, decided.steps)
            question = (f"recover to zxid {decided.zxid_text}, from {verdict.source}?" if verdict.mode == "recover"
                        else f"set aside the old data of {', '.join(verdict.rejoin)} and add them back?")
            if not click.confirm(question, default=False, err=True):
                run.console.print("not recovered: nothing was changed")
                return
        result = recover.recover(run.session, decided, timeout=timeout)
        after = recover.status_after(run.session, result)
    show_status(run.console, after)
    said = f"recovered to zxid {decided.zxid_text} from {verdict.source}" if verdict.mode == "recover" else \
        "grown back"
    members = ", ".join(m.host for m in sorted(result.members.values()))
    run.console.print(Text(f"{said}: the ensemble is {members}" + (
        f"; {', '.join(result.waiting)} did not answer: once back, run clusterctl zk recover again to add "
        f"{'it' if len(result.waiting) == 1 else 'them'}" if result.waiting else "")))
    _finish(run)


@zk_group.command("status")
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", is_flag=True, help="Keep the table on screen, asked again every second; role changes "
                                            "and elections highlighted; Ctrl-C ends it (exit 0).")
def zk_status(options, as_json: bool, watch: bool) -> None:
    """Each server's role, zxid, connections and latency, and the quorum. Exit 3 without quorum.

    Then the age of the newest backup on this machine and, when zk backup
    --schedule was run from here, on the node that takes them.

    With --watch the table stays on the terminal's alternate screen, asked
    again every second, until Ctrl-C; then the screen is as it was and the
    last table is printed once.
    """
    options.live = False
    if watch:
        if as_json:
            raise UsageError("--watch draws a live table: drop --json (or --watch)")
        from .health import watch_status
        return watch_status(options)
    # Stdout carries only the status; the run's own lines go to stderr.
    with open_run(options, "zk-status", out=sys.stderr, read_only=True) as run:
        zookeeper.servers(run.inventory)
        status = zookeeper.status(run.session)
        from ..steps.backup_schedule import backup_ages
        ages = backup_ages(run.session)
    if as_json:
        click.echo(json.dumps({**status.to_json(), "backups": backups_json(ages)}, indent=2))
    else:
        console = make_console()
        show_status(console, status)
        from rich.text import Text  # rich: imported where it draws (see display)
        console.print(Text(describe_backups(ages)))
    if not status.quorum.has_quorum:
        raise NoQuorum(f"no quorum: {status.quorum.describe()}")


def describe_backups(ages) -> str:
    """The newest backups' ages, as zk status prints them under its table."""
    from ..zk.schedule import describe_age
    line = f"newest backup: here {describe_age(ages.here)}"
    if ages.record is not None:
        where = f"on {ages.record.host} ({ages.record.every}, newest {ages.record.keep} kept)"
        line += f"; {where} " + (f"not asked: {ages.node_error}" if ages.node_error else describe_age(ages.on_node))
    return line


def backups_json(ages) -> dict:
    scheduled = None if ages.record is None else {
        "host": ages.record.host, "every": ages.record.every, "keep": ages.record.keep,
        "newest_age_hours": ages.on_node, "error": ages.node_error or None}
    return {"here_newest_age_hours": ages.here, "scheduled": scheduled}


@zk_group.command("doctor")
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def zk_doctor(options, as_json: bool) -> None:
    """What is wrong or going wrong: findings per server and for the ensemble, each with evidence and a fix.

    Asks each server node once over SSH (its four-letter words on the node
    itself, its process, disks, snapshots and log) and changes nothing. Exit 0
    healthy, 1 warnings, 3 a critical finding. Thresholds: the inventory's
    [doctor] (README, "Health").
    """
    from ..steps.doctor import doctor
    from .health import show_report
    options.live = False
    # Stdout carries only the report; the run's own lines go to stderr.
    with open_run(options, "zk-doctor", out=sys.stderr, read_only=True) as run:
        report = doctor(run.session)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        show_report(make_console(), report)
    if report.findings:
        raise Unhealthy(report.verdict == "critical")


@zk_group.command("smoke")
@run_options
def zk_smoke(options) -> None:
    """Write a znode through one server, read it back through every other (or those of --hosts), remove it."""
    from ..zk.smoke import smoke as smoke_test  # kazoo: loaded by the commands that open ZooKeeper sessions
    with open_run(options, "zk-smoke") as run:
        zookeeper.servers(run.inventory)
        smoke_test(run.session)
    _finish(run)


@zk_group.command("credentials")
@run_options
@click.argument("user")
@click.option("--show", is_flag=True, help="Print the password itself (on stdout), not its file's path.")
def zk_credentials(options, user: str, show: bool) -> None:
    """Where this controller keeps the SASL password of USER ([sasl] users): its file's path (mode 600).

    With --show, the password itself, on stdout alone (never in the run log). A kazoo client logs in
    with sasl_options={"mechanism": "DIGEST-MD5", "username": USER, "password": ...}.
    """
    from ..zk import sasl
    inventory = load(options)
    secret = sasl.user_password(inventory, user)  # refused (exit 2) for a user not listed, or not made yet
    click.echo(secret if show else str(sasl.password_path(inventory, user)))


@zk_group.command("cli", context_settings={"ignore_unknown_options": True})
@run_options
@click.argument("node")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def zk_cli(options, node: str, args: tuple[str, ...]) -> None:
    """zkCli.sh on NODE: interactive without ARGS, else run ARGS (after --) and print the output.

    The interactive form runs the system ssh with a terminal: line editing,
    Ctrl-C and window size then work as in any ssh session, which a relayed
    paramiko channel would have to imitate. It uses the inventory's user,
    port, identity and known_hosts (pinned as clusterctl pins them). Where
    [sasl] client = "required", zkCli runs as the service account and logs
    in as clusterctl's own SASL user (the JAAS file's Client section).
    """
    inventory = load(options)
    zookeeper.servers(inventory, [node])
    if not args:
        os.execvp("ssh", ssh_argv(inventory, node, zkcli_command(inventory, inventory.hosts[node].user)))
    options.live = False
    with open_run(options, "zk-cli", out=sys.stderr, read_only=True) as run:
        outcomes = run.session.for_each("zk-cli", [node], lambda ctx: _run_cli(ctx, list(args)), report=False,
                                        changes_host=False)
    outcome = outcomes.get(node)
    if outcome is None:
        _finish(run)
        return
    result = outcome.data
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.exited:
        raise ClusterctlError(f"zkCli.sh exited {result.exited}")


def _run_cli(ctx: HostContext, args: list[str]) -> Outcome:
    inventory = ctx.session.inventory
    spec = inventory.zookeeper
    return Outcome.ok(data=ctx.run_script("zk_cli.sh", java_home(inventory), home(spec), spec.client_port,
                                          " ".join(zkcli_jvm_flags(inventory)), *args, timeout=120,
                                          become=spec.user if zkcli_logs_in(inventory) else None,
                                          allow_failure="zkCli.sh's own exit status is the command's, passed on "
                                                        "by zk_cli"))


def zkcli_logs_in(inventory: Inventory) -> bool:
    """zkCli.sh must log in with SASL: every session must ([sasl] client = "required"). It then runs as the
    service account, the only one that reads the JAAS file's Client section (clusterctl's own user)."""
    return inventory.zookeeper.sasl.client == "required"


def zkcli_jvm_flags(inventory: Inventory) -> list[str]:
    """zkCli.sh's CLIENT_JVMFLAGS: quiet, and where it must log in, the JAAS file's path and section (no
    password: the file holds it). It always talks to the node's own plaintext port, which listens on the
    loopback even with [tls] client = "required"."""
    from ..render.jaas import client_login_options
    return [QUIET_CLIENT, *(client_login_options(inventory.zookeeper) if zkcli_logs_in(inventory) else [])]


def zkcli_command(inventory: Inventory, login_user: str = "root") -> str:
    """The remote command line of an interactive zkCli.sh on a terminal (every value quoted), for a session
    of ``login_user``: as the service account where zkCli must log in (runuser from root, else sudo)."""
    spec = inventory.zookeeper
    words = ["env", f"JAVA_HOME={java_home(inventory)}", f"CLIENT_JVMFLAGS={' '.join(zkcli_jvm_flags(inventory))}",
             f"{home(spec)}/bin/zkCli.sh", "-server", f"127.0.0.1:{spec.client_port}"]
    if zkcli_logs_in(inventory) and login_user != spec.user:
        words = (["runuser", "-u", spec.user, "--"] if login_user == "root" else ["sudo", "-u", spec.user]) + words
        return "cd / && exec " + shlex.join(words)  # the service account may not read the login's home
    return "exec " + shlex.join(words)


def ssh_argv(inventory: Inventory, node: str, command: str) -> list[str]:
    """OpenSSH's command line for an interactive session on ``node`` as clusterctl connects to it."""
    host = inventory.hosts[node]
    argv = ["ssh", "-t", "-p", str(host.port), "-o", f"UserKnownHostsFile={inventory.cluster.known_hosts}",
            "-o", "StrictHostKeyChecking=accept-new"]
    if host.identity:
        argv += ["-i", str(host.identity), "-o", "IdentitiesOnly=yes"]
    if host.jump:
        # Through the bastions, checked against the same known_hosts; the inner ssh gets the same key.
        inner = ["ssh", "-o", f"UserKnownHostsFile={inventory.cluster.known_hosts}",
                 "-o", "StrictHostKeyChecking=accept-new", *(["-i", str(host.identity)] if host.identity else [])]
        *before, last = host.jump
        if before:
            inner += ["-J", ",".join(str(j) for j in before)]
        inner += ["-p", str(last.port), "-W", "%h:%p", f"{last.user or host.user}@{last.host}"]
        argv += ["-o", "ProxyCommand=" + shlex.join(inner)]
    return argv + [f"{host.user}@{host.address}", command]
