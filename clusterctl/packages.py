"""The package files a command sends to hosts or compares them with, checked when that command runs.

Loading the inventory checks what ``[jdk] package`` and ``[zookeeper] package``
say (a path by the inventory's rules, a kind by the file's name), not the files:
an operator checking status from a second machine, or after deleting a 150 MB
tarball once it is installed, has none, and needs none. A command that sends a
package or compares hosts with it checks the file first, before any host is
contacted: missing, unreadable or broken is one line naming the file, the key
(or the option) and the fix, exit 2. ``plan`` says per host and step what it
could not compare instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from .errors import InventoryError, PackageFileError, UsageError
from .inventory import Inventory, package_problem
from .package_files import tarball_lacks


@dataclass(frozen=True)
class PackageFile:
    """A local package a command needs, and what names it: an inventory key, or a command's option."""

    key: str  # jdk.package, zookeeper.package, or an option such as --package
    path: Path
    kind: str  # rpm | deb | tarball

    def problem(self) -> tuple[str, str] | None:
        """Why the file cannot be read as its kind, with the fix; None when it can."""
        try:
            st = os.stat(self.path)
        except OSError:
            return package_problem(self.path, self.kind)
        return _problem_of(self.path, self.kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def error(self, inventory: Inventory, problem: str, fix: str) -> UsageError:
        """The one-line refusal (exit 2): an inventory key's names the inventory too."""
        problem = problem if problem.isprintable() else problem.encode("unicode_escape").decode()
        if self.key.startswith("--"):
            return UsageError(f"{self.key}: {problem} (fix: {fix})")
        return InventoryError(inventory.path, self.key, problem, fix)

    def not_compared(self, problem: tuple[str, str]) -> str:
        """What ``plan`` says on a host it cannot compare with this package."""
        return f"not compared: {self.key}: {problem[0]} on this controller (fix: {problem[1]})"


@lru_cache(maxsize=32)
def _problem_of(path: Path, kind: str, size: int, mtime_ns: int, ctime_ns: int) -> tuple[str, str] | None:
    # Steps ask once per host; the headers are read again only when the file changes (ctime: its mode too).
    return package_problem(path, kind)


def jdk_package(inventory: Inventory) -> list[PackageFile]:
    """[jdk] package, when there is a [jdk] section."""
    return [PackageFile("jdk.package", inventory.jdk.package, inventory.jdk.kind)] if inventory.jdk else []


def zookeeper_package(inventory: Inventory) -> list[PackageFile]:
    """[zookeeper] package, when there is a [zookeeper] section."""
    spec = inventory.zookeeper
    return [PackageFile("zookeeper.package", spec.package, "tarball")] if spec else []


def given_package(option: str, path: Path, kinds: Mapping[str, str], fix: str) -> PackageFile:
    """The package a command's ``option`` names, its kind by its name; refused (exit 2) unless one of ``kinds``."""
    kind = next((k for suffix, k in kinds.items() if path.name.endswith(suffix)), None)
    if kind is None:
        raise UsageError(f"{option}: {path} is not a {', '.join(kinds)} package (fix: {fix})")
    return PackageFile(option, path.resolve(), kind)


def require(inventory: Inventory, packages: Iterable[PackageFile]) -> None:
    """Refuse (InventoryError or UsageError, exit 2) the first of ``packages`` that cannot be read."""
    for package in dict.fromkeys(packages):
        problem = package.problem()
        if problem:
            raise package.error(inventory, *problem)


@dataclass(frozen=True)
class Contents:
    """What a tarball must hold to be what a command installs: member paths below its top directory."""

    what: str  # "a ZooKeeper release", as the refusal says it
    members: dict[str, re.Pattern]  # as the refusal names it → the pattern of its path below the top directory
    fix: str


ZOOKEEPER_RELEASE = Contents(
    "a ZooKeeper release",
    {"bin/zkServer.sh": re.compile(r"bin/zkServer\.sh"),
     # The server's own jar, not zookeeper-jute-*.jar or another module's.
     "lib/zookeeper-VERSION.jar": re.compile(r"lib/zookeeper-[0-9][^/]*\.jar")},
    "give the Apache ZooKeeper -bin.tar.gz release, with bin/zkServer.sh and the server jar under one top directory")
JDK = Contents("a JDK", {"bin/java": re.compile(r"bin/java")},
               "give a JDK .tar.gz, with bin/java under one top directory")


def require_contents(inventory: Inventory, package: PackageFile, contents: Contents) -> None:
    """Refuse (exit 2) ``package`` unless it reads and holds what ``contents`` says, from its member list alone."""
    require(inventory, [package])
    try:
        top, lacking = tarball_lacks(package.path, contents.members)
    except PackageFileError as exc:
        raise package.error(inventory, str(exc), contents.fix) from None
    if lacking:
        raise package.error(inventory, f"{package.path} is not {contents.what}: it has no "
                                       f"{' and no '.join(f'{top}/{name}' for name in lacking)}", contents.fix)


PROMETHEUS_JAR = "lib/zookeeper-prometheus-metrics-*.jar"
METRICS_PROVIDER = Contents(
    "a release with ZooKeeper's Prometheus metrics provider",
    {PROMETHEUS_JAR: re.compile(r"lib/zookeeper-prometheus-metrics-[0-9][^/]*\.jar")},
    "use an Apache ZooKeeper -bin.tar.gz release (3.6 and later ship the provider), or remove [zookeeper] metrics")


@lru_cache(maxsize=8)
def _lacks_metrics_provider(path: Path, size: int, mtime_ns: int) -> str:
    """The tarball's top directory when it has no Prometheus provider jar, else "" (its member list read once
    while the file is unchanged)."""
    top, lacking = tarball_lacks(path, METRICS_PROVIDER.members)
    return top if lacking else ""


def metrics_refusal(inventory: Inventory, package: PackageFile | None = None) -> InventoryError | None:
    """Why [zookeeper] metrics cannot be turned on with ``package`` (the inventory's release by default), or
    None: it is off, the release ships the provider, or the file cannot be read here (refused, or not compared,
    as a package of its own)."""
    spec = inventory.zookeeper
    package = package or next(iter(zookeeper_package(inventory)), None)
    if spec is None or spec.metrics is None or package is None or package.problem():
        return None
    st = os.stat(package.path)
    try:
        top = _lacks_metrics_provider(package.path, st.st_size, st.st_mtime_ns)
    except PackageFileError:
        return None  # not a release at all: said where its contents are checked
    if not top:
        return None
    return InventoryError(inventory.path, "zookeeper.metrics",
                          f"{package.path.name} has no {top}/{PROMETHEUS_JAR}: this release does not ship "
                          f"ZooKeeper's Prometheus metrics provider", METRICS_PROVIDER.fix)


def require_metrics_provider(inventory: Inventory, package: PackageFile | None = None) -> None:
    """Refuse (exit 2, before any host is contacted) [zookeeper] metrics with a release that cannot serve it."""
    refusal = metrics_refusal(inventory, package)
    if refusal is not None:
        raise refusal
