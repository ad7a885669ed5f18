"""Exceptions that end a run, and the exit status each one maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    HOST_FAILURE = 1  # at least one host failed a step; the others finished theirs
    USAGE = 2  # bad command line or inventory; no host was touched
    NO_QUORUM = 3  # the ZooKeeper ensemble has no quorum


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
    exit_status = ExitStatus.NO_QUORUM
