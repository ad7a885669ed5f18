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
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

from ..core.facts import Fact
from ..core.host_receive import RemotePaths
from ..core.session import HostContext, Outcome, Session
from ..core.transfer import (COPY, KEEP, LocalFile, StagedFile, distribute, local_file, staged_facts,
                              staging_action)
from ..display import human_bytes
from ..errors import UsageError
from ..events import State
from ..inventory import Host, Inventory, JdkSpec
from ..package_files import PackageIdentity, read_deb_identity, read_rpm_identity, tarball_top_dir
from ..plan import Change, file_change
from ..render.profile import render_profile_snippet

STAGE_STEP = "jdk-stage"
INSTALL_STEP = "jdk-install"
VERIFY_STEP = "jdk-verify"
PROFILE_PATH = "/etc/profile.d/java.sh"
JAVA_DIR = "/usr/java"  # where a tarball is unpacked: where the vendor's rpm installs
TARBALL_MARK = ".clusterctl-package.sha256"  # in an unpacked JDK: the sha256 of the tarball it came from
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

def facts(host: Host, spec: JdkSpec) -> dict[str, str]:
    """Everything the step and its check need to know from a host, for one gather."""
    pkg = describe_package(spec)
    snippets = staged_facts(remote_paths(spec), pkg.file.size)
    snippets["jdk.tool"] = tool_snippet(pkg.kind)
    snippets["jdk.installed"] = installed_snippet(pkg)
    home = spec.java_home
    snippets["jdk.java_home"] = f"if [ -L {home} ]; then echo link $(readlink {home}); elif [ -e {home} ]; then echo other; fi"
    snippets["jdk.profile"] = f"cat {PROFILE_PATH}"
    snippets.update(verify_facts())
    return snippets


def tool_snippet(kind: str) -> str:
    if kind == "rpm":
        # Debian's rpm is patched to want --force-debian, and its database knows none of dpkg's packages.
        return "command -v rpm && { rpm --help 2>&1 | grep -q -- --force-debian && echo debian-rpm; true; }"
    if kind == "deb":
        return "command -v dpkg && command -v dpkg-query"
    return "command -v tar && command -v gzip"


def installed_snippet(pkg: JdkPackage) -> str:
    if pkg.kind == "rpm":
        return f"rpm -q --qf '%{{NAME}}-%{{VERSION}}-%{{RELEASE}}.%{{ARCH}}\\n' {shlex.quote(pkg.identity.name)}"
    if pkg.kind == "deb":
        return (f"dpkg-query -W -f '${{Version}} ${{Architecture}} ${{db:Status-Abbrev}}\\n' "
                f"{shlex.quote(pkg.identity.name)}")
    home = pkg.unpacked_home
    return f"if [ -f {home}/{TARBALL_MARK} ]; then echo mark $(cat {home}/{TARBALL_MARK}); elif [ -e {home} ]; then echo unmarked; fi"


def verify_facts(run_jvm: bool = False) -> dict[str, str]:
    """What a user's login shell (through /etc/profile.d) finds: JAVA_HOME, java, and its version.

    Without ``run_jvm`` the version comes from the JDK's ``release`` file:
    starting a JVM on every host costs a converged run more than everything
    else it asks. With it, ``java -version`` really runs.
    """
    version = ("java -version" if run_jvm else
               "sed -n \"s/^JAVA_VERSION=/release_version=/p\" \"$JAVA_HOME/release\" | tr -d \"\\\"\"")
    name = "jdk.login_java_run" if run_jvm else "jdk.login_java"
    return {name: f"bash -lc '{_LOGIN_JAVA}; {version}' 2>&1"}


_LOGIN_JAVA = "echo \"JAVA_HOME=$JAVA_HOME\"; echo \"java=$(command -v java)\"; [ -x \"$(command -v java)\" ] || echo not-executable"


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
    def from_facts(cls, f: dict[str, Fact], remote: RemotePaths) -> HostState:
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
class HostPlan:
    """What one host needs; ``problem`` says why it cannot get the JDK at all."""

    stage: str = KEEP
    install: bool = False
    link: bool = False
    profile: tuple[str, str] | None = None  # (now, wanted) when they differ
    problem: str | None = None
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.install or self.link or self.profile)


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


def decide(spec: JdkSpec, pkg: JdkPackage, state: HostState) -> HostPlan:
    """What one host needs for the JDK (pure): stage, install, link java_home, write java.sh."""
    plan = HostPlan()
    tool = TOOLS[pkg.kind]
    if not state.tool:
        plan.problem = (f"{tool} is not installed on this host: install it, or point jdk.package at "
                        f"{OTHER_KINDS[pkg.kind]} of this JDK")
        plan.changes.append(Change(f"cannot install: {plan.problem}"))
        return plan
    installed = is_installed(pkg, state)
    if pkg.kind == "tarball":
        if not installed and "unmarked" in state.installed:
            plan.problem = (f"{pkg.unpacked_home} exists but was not unpacked by clusterctl (from an rpm or deb?): "
                            "remove it, or install that package instead")
        elif state.java_home_other:
            plan.problem = f"java_home {spec.java_home} exists and is not a link: clusterctl will not replace it"
        if plan.problem:
            plan.changes.append(Change(f"cannot install: {plan.problem}"))
            return plan
        target = link_target(spec, pkg)
        plan.link = state.java_home_link not in (target, pkg.unpacked_home)
    plan.stage = staging_action(state.staged, pkg.file)
    plan.install = not installed
    wanted = desired_profile(spec)
    if state.profile != wanted:
        plan.profile = (state.profile, wanted)

    if plan.stage == COPY:
        plan.changes.append(Change(f"stage {pkg.file.name} ({human_bytes(pkg.file.size)}) in {spec.stage_dir}"))
    if plan.install:
        how = {"rpm": "rpm -U", "deb": "dpkg -i", "tarball": f"unpacking into {JAVA_DIR}"}[pkg.kind]
        plan.changes.append(Change(f"install {pkg.label} with {how}"))
    if plan.link:
        plan.changes.append(Change(f"point {spec.java_home} at {link_target(spec, pkg)}"))
    if plan.profile:
        plan.changes.append(file_change(PROFILE_PATH, *plan.profile, f"write {PROFILE_PATH} (JAVA_HOME, PATH)"))
    return plan


def plan(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, list[Change]]:
    """Per host: what the JDK step would change (a file to stage shows its size)."""
    spec = require_spec(inventory)
    pkg = describe_package(spec)
    remote = remote_paths(spec)
    return {h: decide(spec, pkg, HostState.from_facts(f, remote)).changes for h, f in gathered.items()}


# -- applying ----------------------------------------------------------------------

def install_command(pkg: JdkPackage, staged: str, state: HostState) -> str:
    """The command that installs the staged package on one host."""
    if pkg.kind == "rpm":
        # On Debian rpm's database is empty, so any dependency would be "missing" while dpkg has it.
        flags = " --force-debian --nodeps" if state.debian_rpm else ""
        return f"rpm -Uvh{flags} {staged}"
    if pkg.kind == "deb":
        return f"DEBIAN_FRONTEND=noninteractive dpkg -i {staged}"
    return unpack_script(pkg, staged)


def unpack_script(pkg: JdkPackage, staged: str) -> str:
    """Unpack beside the final place, mark it with the tarball's hash, then rename it into place."""
    top = pkg.top_dir
    return "\n".join([
        "set -e",
        f"part={JAVA_DIR}/.{top}.clusterctl-part",
        f"mkdir -p {JAVA_DIR} && rm -rf \"$part\" && mkdir \"$part\"",
        f"tar -xzf {staged} -C \"$part\" --no-same-owner",
        f"[ -d \"$part/{top}\" ] || {{ echo 'the tarball did not unpack into {top}/' >&2; exit 1; }}",
        f"echo {pkg.file.sha256} > \"$part/{top}/{TARBALL_MARK}\"",
        f"if [ -e {JAVA_DIR}/{top} ]; then mv {JAVA_DIR}/{top} \"$part/replaced\"; fi",
        f"mv \"$part/{top}\" {JAVA_DIR}/{top}",
        "rm -rf \"$part\"",
    ])


def link_command(spec: JdkSpec, pkg: JdkPackage) -> str:
    home = spec.java_home
    return (f"mkdir -p {PurePosixPath(home).parent} && ln -sfn {link_target(spec, pkg)} {home}.clusterctl-tmp "
            f"&& mv -Tf {home}.clusterctl-tmp {home}")


def run(session: Session, mode: str | None = None) -> dict[str, Outcome]:
    """Stage, install and check the JDK on the [jdk] hosts; ``mode`` overrides [jdk] distribute.

    Returns host → Outcome for the whole step: changed if anything was staged
    or installed, its data the :class:`JavaCheck` of a login shell there;
    failed hosts (with the step and reason) are in ``session.failures``.
    """
    spec = require_spec(session.inventory)
    pkg = describe_package(spec)
    remote = remote_paths(spec)
    gathered = session.gather(STAGE_STEP, spec.hosts, lambda h: facts(h, spec))
    states = {h: HostState.from_facts(f, remote) for h, f in gathered.items()}
    plans = {h: decide(spec, pkg, s) for h, s in states.items()}
    for name, p in plans.items():
        if p.problem:
            session.fail(name, INSTALL_STEP, p.problem)
    able = [h for h in spec.hosts if h in plans and not plans[h].problem]
    staged = distribute(session, STAGE_STEP, able, spec.package, spec.stage_dir, mode or spec.distribute)

    def apply(ctx: HostContext) -> Outcome:
        name = ctx.host.name
        p = plans[name]
        if p.empty:
            return Outcome.unchanged(f"{pkg.label} installed")
        done = []
        if p.install:
            ctx.run(install_command(pkg, remote.final, states[name]), sudo=True)
            done.append(f"installed {pkg.label}")
        if p.link:
            ctx.run(link_command(spec, pkg), sudo=True)
            done.append(f"{spec.java_home} → {link_target(spec, pkg)}")
        if p.profile:
            ctx.write_file(PROFILE_PATH, p.profile[1], mode="644", sudo=True)
            done.append(PROFILE_PATH)
        session.forget_facts(name)
        return Outcome.changed(", ".join(done))

    installed = session.for_each(INSTALL_STEP, [h for h in able if h in staged], apply)
    changed = {h for outcomes in (staged, installed) for h, o in outcomes.items() if o.state == State.CHANGED}
    checks = verify(session, run_jvm_on=changed)
    outcomes: dict[str, Outcome] = {}
    for name in spec.hosts:
        if name in session.failures:
            failure = session.failures[name]
            outcomes[name] = Outcome.failed(f"{failure.step}: {failure.reason}")
            continue
        changed = [o for o in (staged.get(name), installed.get(name)) if o and o.state == State.CHANGED]
        detail = "; ".join(o.detail for o in changed) or "nothing to do"
        outcomes[name] = Outcome(State.CHANGED if changed else State.UNCHANGED, detail, checks.get(name))
    return outcomes


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


def verify(session: Session, run_jvm_on: set[str] | None = None) -> dict[str, JavaCheck]:
    """A login shell's java on every live [jdk] host; a host where it is wrong is failed.

    ``java -version`` runs on the hosts in ``run_jvm_on`` (all when None); the
    others are checked without starting a JVM, from the gather (cached when
    this run asked already), so checking a converged cluster costs nothing extra.
    """
    spec = require_spec(session.inventory)

    def jvm(name: str) -> bool:
        return run_jvm_on is None or name in run_jvm_on

    gathered = session.gather(VERIFY_STEP, spec.hosts, lambda h: verify_facts(jvm(h.name)))
    checks = {h: JavaCheck.from_fact(next(iter(f.values()))) for h, f in gathered.items()}

    def check(ctx: HostContext) -> Outcome:
        result = checks[ctx.host.name]
        problem = result.problem(spec.java_home)
        if problem:
            return Outcome.failed(problem, result)
        return Outcome.ok(f"java {result.version}", result)

    session.for_each(VERIFY_STEP, list(checks), check)
    return checks


__all__ = ["INSTALL_STEP", "PROFILE_PATH", "STAGE_STEP", "VERIFY_STEP", "HostPlan", "HostState", "JavaCheck",
           "JdkPackage", "decide", "describe_package", "facts", "plan", "run", "verify"]
