"""Every exception that ends a run, and the one function that turns it into an exit status."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    HOST_FAILURE = 1  # at least one host failed a step; the others finished theirs
    USAGE = 2  # bad command line or inventory; no host was touched
    NO_QUORUM = 3  # the ZooKeeper ensemble has no quorum
    REFUSED = 4  # the operation would be unsafe now (say, no margin for a restart); nothing was changed
    INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C; what finished is in the summary, the next run resumes
    TERMINATED = 128 + signal.SIGTERM  # 143: SIGTERM, likewise


class ClusterctlError(Exception):
    """Base of the errors that end a run with one line and an exit status."""

    exit_status = ExitStatus.HOST_FAILURE


class UsageError(ClusterctlError):
    """A bad argument or environment, found before any host is contacted."""

    exit_status = ExitStatus.USAGE


class InventoryError(UsageError):
    """An inventory problem: names the file, the key and the fix."""

    def __init__(self, path: object, key: str, problem: str, fix: str = ""):
        self.path, self.key, self.problem, self.fix = str(path), key, problem, fix
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem + (f" (fix: {fix})" if fix else ""))


class Refused(ClusterctlError):
    """The operation was refused before anything changed, because doing it now would be unsafe."""

    exit_status = ExitStatus.REFUSED


class ConnectError(ClusterctlError):
    """The host could not be reached, or refused us."""


class RemoteCommandError(ClusterctlError):
    """A remote command exited non-zero; the message is its last lines of output."""

    def __init__(self, shown: str, result):
        self.result = result  # a core.channel.CommandResult
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        super().__init__(f"{shown} exited {result.exited}: {' | '.join(tail) or 'no output'}")


class DryRunViolation(ClusterctlError):
    """A dry run reached code that would change a host: refused before it ran (a bug, never a change)."""


class PrivilegeError(ClusterctlError):
    """Root's work on a host is not possible: no sudo rights, no password, a wrong one."""


class TransferError(ClusterctlError):
    """A host did not end up with a verified copy of a file."""


class PackageFileError(UsageError):
    """A local package file cannot be read as what its name says."""


class BackupInvalid(UsageError):
    """A backup directory that is not a complete, intact clusterctl backup, or nothing to back up from."""


class BackupFailed(ClusterctlError):
    """A copy of the ensemble's data that could not be taken or proven, or a restore that did not hold."""


class NoMarginToRestart(Refused):
    """The ensemble would lose its quorum if one more voter went away."""


class HostKeyMismatch(ClusterctlError):
    """A host presented a key other than the one pinned for it."""

    def __init__(self, host: str, address: str, expected: str, got: str, known_hosts: str):
        self.host, self.expected, self.got = host, expected, got
        super().__init__(
            f"host key for {host} ({address}) changed: pinned {expected}, offered {got}; "
            f"nothing was done on it. If the host was rebuilt, remove the old key with "
            f"'ssh-keygen -R {address} -f {known_hosts}'"
        )


class HostsFailed(ClusterctlError):
    """Some hosts failed; the per-host summary has already named them and why."""

    def __init__(self, status: ExitStatus = ExitStatus.HOST_FAILURE):
        super().__init__("")
        self.exit_status = status


class NoQuorum(ClusterctlError):
    """The ensemble has no leader with a quorum."""

    exit_status = ExitStatus.NO_QUORUM


class EnsembleNotReady(NoQuorum):
    """Servers were started, but no leader with a quorum came up in time; carries the last status."""

    def __init__(self, message: str, status):
        super().__init__(message)
        self.status = status  # a zk.status.EnsembleStatus, for the display


class Unhealthy(ClusterctlError):
    """zk doctor found problems: exit 1 for warnings only, 3 when one is critical (the report says them all)."""

    def __init__(self, critical: bool):
        super().__init__("")
        self.exit_status = ExitStatus.NO_QUORUM if critical else ExitStatus.HOST_FAILURE


class Interrupted(ClusterctlError):
    """Work not done because the run was interrupted (SIGINT or SIGTERM)."""

    exit_status = ExitStatus.INTERRUPTED


class CommandStatus(ClusterctlError):
    """A command ended with a status of its own and has said all it had to: clusterctl exits with that status.

    ``lab exec`` passes on the status of the command it ran in a node (as
    ssh does); a click command that ended with ``ctx.exit(N)`` comes back as
    this too, so that N reaches the exit status.
    """

    def __init__(self, status: int):
        super().__init__("")
        # A command killed by a signal reports -signum; a shell would exit 128 + signum.
        self.exit_status = status if status >= 0 else 128 - status


class Terminated(BaseException):
    """SIGTERM outside a run's own handling, raised where the program is so that cleanups still run."""


def exit_status_for(exc: BaseException) -> int:
    """The documented exit status (an :class:`ExitStatus`) of a run that ended with ``exc``.

    The one mapping, used by the click CLI (the lab's commands and the
    artifact builders included), tasks.py and the lab. Errors of other parts
    (the lab, click's usage errors) map through their base class. Only
    :class:`CommandStatus` passes on a status of its own, which may be any.
    """
    if isinstance(exc, CommandStatus):
        return exc.exit_status
    if isinstance(exc, ClusterctlError):
        return ExitStatus(exc.exit_status)
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, Terminated):
        return ExitStatus.TERMINATED
    import click  # here, not at the top: the core's errors do not depend on the CLI library
    if isinstance(exc, click.exceptions.Abort):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, click.ClickException):
        return ExitStatus.USAGE
    return ExitStatus.HOST_FAILURE
