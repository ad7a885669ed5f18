"""The runbook's step 3: a JDK on every node, with JAVA_HOME and PATH for login shells.

The runbook uploads the package to node1, scps it on to the others, runs
``rpm -ivh`` everywhere and appends to /etc/profile by hand. Here the package
is staged by the transfer core (hash-skip, atomic rename, direct, relay or
pipeline), installed with the tool its type calls for only where that exact
package is not installed yet, and JAVA_HOME/PATH go into a managed
/etc/profile.d/java.sh. Everything a run needs to know, including the check
(``java -version`` in a login shell), comes from one gather round trip, so a
second run costs one command per host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Mapping

from ..core.facts import Fact, FactQuery, query
from ..core.host_receive import RemotePaths
from ..core.session import HostContext, HostResults, Outcome, Session
from ..core.transfer import KEEP, LocalFile, StagedFile, local_file, staged_query, staging_action
from ..errors import UsageError
from ..inventory import Host, Inventory, JdkSpec
from ..packages import PackageFile, jdk_package
from ..package_files import PackageIdentity, read_deb_identity, read_rpm_identity, tarball_top_dir
from ..plan import Change, file_change
from ..render.profile import render_profile_snippet
from .base import Facts, HostPlan, Step, StepRun
from .stage import StageStep

STAGE_STEP = "jdk-stage"
INSTALL_STEP = "jdk-install"
VERIFY_STEP = "jdk-verify"
PROFILE_PATH = "/etc/profile.d/java.sh"
JAVA_DIR = "/usr/java"  # where a tarball is unpacked: where the vendor's rpm installs
TARBALL_MARK = ".clusterctl-package.sha256"  # in an unpacked JDK: the sha256 of the tarball it came from
SCRIPT = "jdk.sh"
TOOLS = {"rpm": "rpm", "deb": "dpkg", "tarball": "tar"}
OTHER_KINDS = {"rpm": "the .deb or .tar.gz", "deb": "the .rpm or .tar.gz", "tarball": "the .rpm or .deb"}


# -- the package on the controller ---------------------------------------------

@dataclass(frozen=True)
class JdkPackage:
    """The local package: its file, and what it installs as."""

    kind: str  # rpm | deb | tarball
    file: LocalFile
    identity: PackageIdentity | None = None  # rpm and deb
    top_dir: str | None = None  # tarball: the directory it unpacks into

    @property
    def label(self) -> str:
        if self.kind == "rpm":
            return self.identity.rpm_nevra
        if self.kind == "deb":
            return f"{self.identity.name} {self.identity.version} ({self.identity.arch})"
        return f"{self.top_dir} from {self.file.name}"

    @property
    def unpacked_home(self) -> str:
        return f"{JAVA_DIR}/{self.top_dir}"


def describe_package(spec: JdkSpec) -> JdkPackage:
    """Read the package named by [jdk] package: its hash and its name, version or top directory."""
    file = local_file(spec.package)
    return _read_package(spec.kind, file)


@lru_cache(maxsize=8)
def _read_package(kind: str, file: LocalFile) -> JdkPackage:
    # Keyed by the file's hash too: a package rebuilt under the same name is read again.
    if kind == "rpm":
        return JdkPackage("rpm", file, identity=read_rpm_identity(file.path))
    if kind == "deb":
        return JdkPackage("deb", file, identity=read_deb_identity(file.path))
    return JdkPackage("tarball", file, top_dir=tarball_top_dir(file.path))


def require_spec(inventory: Inventory) -> JdkSpec:
    if inventory.jdk is None:
        raise UsageError(f"{inventory.path}: no [jdk] section; add one with package = \"path/to/jdk.rpm\"")
    return inventory.jdk


def remote_paths(spec: JdkSpec) -> RemotePaths:
    return RemotePaths(spec.stage_dir, spec.package.name)


# -- facts -----------------------------------------------------------------------

def facts(spec: JdkSpec) -> list[FactQuery]:
    """Everything the JDK steps and their check need to know from a host, for one gather."""
    pkg = describe_package(spec)
    queries = [staged_query(remote_paths(spec), pkg.file.size),
               query("jdk.tool", "package_tool", pkg.kind),
               installed_query(pkg),
               query("jdk.java_home", "link", spec.java_home),
               query("jdk.profile", "file", PROFILE_PATH)]
    return queries + [login_java_query(run_jvm=False)]


def installed_query(pkg: JdkPackage) -> FactQuery:
    if pkg.kind == "rpm":
        return query("jdk.installed", "rpm_query", pkg.identity.name)
    if pkg.kind == "deb":
        return query("jdk.installed", "dpkg_query", pkg.identity.name)
    return query("jdk.installed", "release_mark", pkg.unpacked_home, TARBALL_MARK)


def login_java_query(run_jvm: bool) -> FactQuery:
    """What a user's login shell (through /etc/profile.d) finds: JAVA_HOME, java, and its version.

    Without ``run_jvm`` the version comes from the JDK's ``release`` file:
    starting a JVM on every host costs a converged run more than everything
    else it asks. With it, ``java -version`` really runs.
    """
    return query("jdk.login_java_run" if run_jvm else "jdk.login_java", "login_java", int(run_jvm))


@dataclass(frozen=True)
class HostState:
    """What one host has now, read from its facts."""

    staged: StagedFile
    tool: bool
    debian_rpm: bool
    installed: tuple[str, ...]  # what the package query printed
    java_home_link: str | None  # where java_home points, if it is a link
    java_home_other: bool  # java_home exists and is not a link
    profile: str

    @classmethod
    def from_facts(cls, f: Facts, remote: RemotePaths) -> HostState:
        tool = f["jdk.tool"]
        home = f["jdk.java_home"].output.strip()
        return cls(
            staged=StagedFile.from_fact(f[remote.fact_name]),
            tool=tool.ok,
            debian_rpm="debian-rpm" in tool.lines,
            installed=tuple(line.strip() for line in f["jdk.installed"].lines),
            java_home_link=home[5:] if home.startswith("link ") else None,
            java_home_other=home == "other",
            profile=f["jdk.profile"].output if f["jdk.profile"].ok else "",
        )


# -- deciding (pure) -----------------------------------------------------------

@dataclass
class JdkPlan(HostPlan):
    """What one host needs; ``problem`` says why it cannot get the JDK at all."""

    stage: str = KEEP
    install: bool = False
    link: bool = False
    profile: tuple[str, str] | None = None  # (now, wanted) when they differ
    debian_rpm: bool = False


def is_installed(pkg: JdkPackage, state: HostState) -> bool:
    """Whether exactly this package is installed already."""
    if pkg.kind == "rpm":
        return pkg.identity.rpm_nevra in state.installed
    if pkg.kind == "deb":
        wanted = f"{pkg.identity.version} {pkg.identity.arch} ii"
        return any(line == wanted for line in state.installed)
    return f"mark {pkg.file.sha256}" in state.installed


def link_target(spec: JdkSpec, pkg: JdkPackage) -> str:
    """What java_home should point at for an unpacked tarball: relative when it sits beside it."""
    if str(PurePosixPath(spec.java_home).parent) == JAVA_DIR:
        return pkg.top_dir
    return pkg.unpacked_home


def desired_profile(spec: JdkSpec) -> str:
    return render_profile_snippet({"JAVA_HOME": spec.java_home}, [f"{spec.java_home}/bin"])


def decide(spec: JdkSpec, pkg: JdkPackage, state: HostState) -> JdkPlan:
    """What one host needs for the JDK (pure): stage, install, link java_home, write java.sh."""
    plan = JdkPlan(debian_rpm=state.debian_rpm)
    if not state.tool:
        plan.problem = (f"{TOOLS[pkg.kind]} is not installed on this host: install it, or point jdk.package at "
                        f"{OTHER_KINDS[pkg.kind]} of this JDK")
        return plan
    installed = is_installed(pkg, state)
    if pkg.kind == "tarball":
        if not installed and "unmarked" in state.installed:
            plan.problem = (f"{pkg.unpacked_home} exists but was not unpacked by clusterctl (from an rpm or deb?): "
                            "remove it, or install that package instead")
        elif state.java_home_other:
            plan.problem = f"java_home {spec.java_home} exists and is not a link: clusterctl will not replace it"
        if plan.problem:
            return plan
        target = link_target(spec, pkg)
        plan.link = state.java_home_link not in (target, pkg.unpacked_home)
    plan.stage = staging_action(state.staged, pkg.file)
    plan.install = not installed
    wanted = desired_profile(spec)
    if state.profile != wanted:
        plan.profile = (state.profile, wanted)

    if plan.install:
        how = {"rpm": "rpm -U", "deb": "dpkg -i", "tarball": f"unpacking into {JAVA_DIR}"}[pkg.kind]
        plan.changes.append(Change(f"install {pkg.label} with {how}"))
    if plan.link:
        plan.changes.append(Change(f"point {spec.java_home} at {link_target(spec, pkg)}"))
    if plan.profile:
        plan.changes.append(file_change(PROFILE_PATH, *plan.profile, f"write {PROFILE_PATH} (JAVA_HOME, PATH)"))
    return plan


def decide_all(inventory: Inventory, gathered: Mapping[str, Facts]) -> dict[str, JdkPlan]:
    spec = require_spec(inventory)
    pkg = describe_package(spec)
    remote = remote_paths(spec)
    return {h: decide(spec, pkg, HostState.from_facts(f, remote)) for h, f in gathered.items()}


# -- the steps -----------------------------------------------------------------------

class _JdkStep(Step):
    phase = "jdk"
    topic = "jdk."

    def applies(self, inventory: Inventory) -> bool:
        return inventory.jdk is not None

    def not_applied(self, inventory: Inventory) -> str:
        return "the inventory has no [jdk] section"

    def hosts(self, inventory: Inventory) -> list[str]:
        return list(inventory.jdk.hosts)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return facts(inventory.jdk)

    def packages(self, inventory: Inventory) -> list[PackageFile]:
        return jdk_package(inventory)


class JdkStage(_JdkStep, StageStep):
    """The package under [jdk] stage_dir on every JDK host that can install it."""

    name = STAGE_STEP
    topic = "staged."

    def package(self, inventory: Inventory) -> Path:
        return inventory.jdk.package

    def stage_dir(self, inventory: Inventory) -> str:
        return inventory.jdk.stage_dir

    def default_mode(self, inventory: Inventory) -> str:
        return inventory.jdk.distribute

    def skip_reason(self, inventory: Inventory, host: str, f: Facts) -> str:
        return decide_all(inventory, {host: f})[host].problem or ""


class JdkInstall(_JdkStep):
    """The staged package installed where exactly it is not, java_home, and /etc/profile.d/java.sh."""

    name = INSTALL_STEP

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, JdkPlan]:
        return decide_all(inventory, facts)

    def apply_host(self, ctx: HostContext, p: JdkPlan) -> Outcome:
        spec = ctx.session.inventory.jdk
        pkg = describe_package(spec)
        if p.empty:
            return Outcome.unchanged(f"{pkg.label} installed")
        done = []
        if p.install:
            if pkg.kind == "rpm":
                ctx.run_script(SCRIPT, "rpm", remote_paths(spec).final, int(p.debian_rpm), become=True)
            elif pkg.kind == "deb":
                ctx.run_script(SCRIPT, "deb", remote_paths(spec).final, become=True)
            else:
                ctx.run_script(SCRIPT, "tarball", remote_paths(spec).final, JAVA_DIR, pkg.top_dir, pkg.file.sha256,
                               become=True)
            done.append(f"installed {pkg.label}")
        if p.link:
            ctx.run_script(SCRIPT, "link", spec.java_home, link_target(spec, pkg), become=True)
            done.append(f"{spec.java_home} → {link_target(spec, pkg)}")
        if p.profile:
            ctx.write_file(PROFILE_PATH, p.profile[1], mode="644", owner="root", group="root", become=True)
            done.append(PROFILE_PATH)
        return Outcome.changed(", ".join(done))


class JdkVerify(_JdkStep):
    """A login shell's java on every JDK host; ``java -version`` really runs where the JDK changed."""

    name = VERIFY_STEP

    def __init__(self, run_jvm_everywhere: bool = False):
        self.run_jvm_everywhere = run_jvm_everywhere

    # What a login shell runs is checked without the package: jdk verify works where it is not.
    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return [login_java_query(run_jvm=False)]

    def packages(self, inventory: Inventory) -> list[PackageFile]:
        return []

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostPlan]:
        return {h: HostPlan() for h in facts}

    def check(self, inventory: Inventory, changing: Mapping[str, set[str]]) -> str:
        hosts = self.hosts(inventory)
        said = f"a login shell finds java on {len(hosts)} host(s)"
        if self.run_jvm_everywhere:
            return said + ", and java -version runs on each"
        changed = [h for h in hosts if h in changing.get(self.phase, set())]
        return said + (f", and java -version runs on {', '.join(changed)} (its JDK changes)" if changed else "")

    def apply(self, run: StepRun, plans: dict[str, HostPlan]) -> HostResults:
        changed = None if self.run_jvm_everywhere else run.changed_in(self.phase)
        checks = verify(run.session, list(plans), run_jvm_on=changed)
        run.outputs[self.name] = checks
        return checks.outcomes


def steps(mode: str | None = None, run_jvm_everywhere: bool = False) -> list[Step]:
    """The JDK phase: stage (``mode`` overrides [jdk] distribute), install, check."""
    return [JdkStage(mode), JdkInstall(), JdkVerify(run_jvm_everywhere)]


# -- checking --------------------------------------------------------------------

@dataclass(frozen=True)
class JavaCheck:
    """What ``java -version`` said in one host's login shell."""

    java_home: str
    java: str  # the path `command -v java` found, "" if none
    version: str  # "17.0.15", "" if java did not run
    runtime: str  # the runtime's line, e.g. "OpenJDK Runtime Environment (build 17.0.15+6-...)"
    output: str

    @classmethod
    def from_fact(cls, fact: Fact) -> JavaCheck:
        lines = fact.lines
        value = {k: v for k, _, v in (line.partition("=") for line in lines[:2])}
        version_line = next((line for line in lines if " version " in line or "release_version=" in line), "")
        match = re.search(r'version "([^"]+)"|release_version=(\S+)', version_line)
        runtime = next((line for line in lines if "Runtime Environment" in line), "")
        return cls(value.get("JAVA_HOME", ""), value.get("java", ""), match.group(1) or match.group(2) if match else "",
                   runtime.strip(), fact.output)

    def problem(self, java_home: str) -> str | None:
        """Why this is not the JDK at ``java_home`` working in a login shell, or None."""
        if not self.java:
            return "no java in a login shell's PATH"
        if "not-executable" in self.output.splitlines():
            return f"{self.java} is not executable"
        if self.java_home != java_home:
            return f"a login shell has JAVA_HOME={self.java_home or '(unset)'}, not {java_home}"
        if self.java != f"{java_home}/bin/java":
            return f"a login shell runs {self.java}, not {java_home}/bin/java"
        if not self.version:
            tail = self.output.strip().splitlines()[-1:] or ["no output"]
            return f"java -version failed: {tail[0]}"
        return None


class JavaChecks(dict):
    """host → :class:`JavaCheck`, and the check's outcome on each host (``outcomes``)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes = HostResults()


def verify(session: Session, hosts: list[str], run_jvm_on: set[str] | None = None) -> JavaChecks:
    """A login shell's java on the live ``hosts`` within --hosts; a host where it is wrong is failed.

    ``java -version`` runs on the hosts in ``run_jvm_on`` (all when None); the
    others are checked without starting a JVM, from the gather (cached when
    this run asked already), so checking a converged cluster costs nothing extra.
    """
    spec = require_spec(session.inventory)
    hosts = session.targets(hosts)

    def jvm(name: str) -> bool:
        return run_jvm_on is None or name in run_jvm_on

    gathered = session.gather(VERIFY_STEP, hosts, lambda h: [login_java_query(jvm(h.name))])
    checks = JavaChecks()
    checks.update({h: JavaCheck.from_fact(next(iter(f.values()))) for h, f in gathered.items()})

    def check(ctx: HostContext) -> Outcome:
        result = checks[ctx.host.name]
        problem = result.problem(spec.java_home)
        if problem:
            return Outcome.failed(problem, result)
        return Outcome.ok(f"java {result.version}", result)

    checks.outcomes = session.for_each(VERIFY_STEP, list(checks), check, changes_host=False)
    return checks


__all__ = ["INSTALL_STEP", "PROFILE_PATH", "STAGE_STEP", "VERIFY_STEP", "HostState", "JavaCheck", "JdkInstall",
           "JdkPackage", "JdkPlan", "JdkStage", "JdkVerify", "decide", "describe_package", "facts", "steps", "verify"]
