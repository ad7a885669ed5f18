"""What the JDK step decides for a host from its facts, and what it reads from a package file."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from clusterctl.core.facts import Fact
from clusterctl.core.transfer import COPY, KEEP, STAMP, LocalFile, StagedFile
from clusterctl.inventory import JdkSpec, load_inventory
from clusterctl.package_files import (PackageFileError, PackageIdentity, read_deb_identity, read_rpm_identity,
                                      tarball_top_dir)
from clusterctl.steps import jdk
from clusterctl.steps.jdk import HostState, JavaCheck, JdkPackage, decide, desired_profile
from tests.fakes import run_locally

SHA = "a" * 64
MTIME = "2026-01-01 10:00:00.000000001 +0000"
SPEC = JdkSpec(package=Path("/pkgs/jdk-17.0.15_linux-x64_bin.rpm"), kind="rpm", hosts=("node1",),
               stage_dir="/opt/apps", java_home="/usr/java/default", distribute="auto")
FILE = LocalFile(SPEC.package, 64_000_000, SHA)
RPM = JdkPackage("rpm", FILE, identity=PackageIdentity("jdk-17", "17.0.15-1", "x86_64"))
DEB = JdkPackage("deb", replace(FILE, path=Path("/pkgs/jdk.deb")), identity=PackageIdentity("jdk-17", "17.0.15", "amd64"))
TARBALL = JdkPackage("tarball", replace(FILE, path=Path("/pkgs/jdk.tar.gz")), top_dir="jdk-17.0.15")

FRESH = HostState(staged=StagedFile(), tool=True, debian_rpm=True, installed=(), java_home_link=None,
                  java_home_other=False, profile="")
STAGED = StagedFile(FILE.size, MTIME, MTIME, SHA)


def converged(pkg: JdkPackage, spec: JdkSpec = SPEC) -> HostState:
    installed = {"rpm": ("jdk-17-17.0.15-1.x86_64",), "deb": ("17.0.15 amd64 ii",),
                 "tarball": (f"mark {SHA}",)}[pkg.kind]
    link = "jdk-17.0.15" if pkg.kind == "tarball" else "latest"
    return replace(FRESH, staged=STAGED, installed=installed, java_home_link=link, profile=desired_profile(spec))


def summaries(plan) -> list[str]:
    return [c.summary for c in plan.changes]


# -- decisions -----------------------------------------------------------------------

def test_a_fresh_host_gets_the_package_staged_installed_and_the_profile():
    plan = decide(SPEC, RPM, FRESH)
    assert (plan.stage, plan.install, plan.link, plan.problem) == (COPY, True, False, None)
    assert summaries(plan) == [
        "install jdk-17-17.0.15-1.x86_64 with rpm -U",
        "write /etc/profile.d/java.sh (JAVA_HOME, PATH)",
    ]
    assert 'export JAVA_HOME="/usr/java/default"' in plan.changes[-1].diff


@pytest.mark.parametrize("pkg", [RPM, DEB, TARBALL], ids=["rpm", "deb", "tarball"])
def test_a_converged_host_needs_nothing(pkg):
    plan = decide(replace(SPEC, kind=pkg.kind), pkg, converged(pkg))
    assert plan.empty and plan.stage == KEEP and plan.changes == []


def test_an_unstamped_good_copy_is_only_stamped():
    state = replace(converged(RPM), staged=StagedFile(FILE.size, MTIME, hashed_sha256=SHA))
    plan = decide(SPEC, RPM, state)
    assert plan.stage == STAMP and plan.changes == []


def test_another_version_installed_means_install():
    state = replace(converged(RPM), installed=("jdk-17-17.0.14-1.x86_64",))
    assert summaries(decide(SPEC, RPM, state)) == ["install jdk-17-17.0.15-1.x86_64 with rpm -U"]


def test_a_removed_deb_with_its_config_left_is_not_installed():
    state = replace(converged(DEB), installed=("17.0.15 amd64 rc",))
    assert decide(replace(SPEC, kind="deb"), DEB, state).install


def test_an_edited_profile_is_rewritten_with_a_diff():
    state = replace(converged(RPM), profile="export JAVA_HOME=/opt/jdk\n")
    plan = decide(SPEC, RPM, state)
    assert summaries(plan) == ["write /etc/profile.d/java.sh (JAVA_HOME, PATH)"]
    assert "-export JAVA_HOME=/opt/jdk" in plan.changes[0].diff


@pytest.mark.parametrize("pkg, tool", [(RPM, "rpm"), (DEB, "dpkg"), (TARBALL, "tar")])
def test_a_missing_tool_is_a_problem_for_that_host_only(pkg, tool):
    plan = decide(replace(SPEC, kind=pkg.kind), pkg, replace(FRESH, tool=False))
    assert plan.problem.startswith(f"{tool} is not installed on this host")
    assert plan.stage == KEEP and not plan.install, "nothing is staged where it cannot be installed"


def test_a_tarball_points_java_home_at_the_unpacked_jdk():
    plan = decide(replace(SPEC, kind="tarball"), TARBALL, replace(converged(TARBALL), java_home_link="jdk-11"))
    assert summaries(plan) == ["point /usr/java/default at jdk-17.0.15"]


def test_a_java_home_outside_usr_java_gets_an_absolute_link():
    spec = replace(SPEC, kind="tarball", java_home="/opt/java")
    plan = decide(spec, TARBALL, replace(converged(TARBALL, spec), java_home_link=None))
    assert summaries(plan) == ["point /opt/java at /usr/java/jdk-17.0.15"]


def test_a_tarball_never_replaces_a_jdk_it_did_not_unpack():
    plan = decide(replace(SPEC, kind="tarball"), TARBALL, replace(FRESH, installed=("unmarked",)))
    assert "was not unpacked by clusterctl" in plan.problem


def test_a_tarball_replaces_its_own_jdk_unpacked_from_other_bytes():
    state = replace(converged(TARBALL), installed=(f"mark {'b' * 64}",))
    assert decide(replace(SPEC, kind="tarball"), TARBALL, state).install


def test_a_java_home_that_is_a_real_directory_is_left_alone():
    plan = decide(replace(SPEC, kind="tarball"), TARBALL, replace(FRESH, java_home_other=True))
    assert "is not a link" in plan.problem


def test_a_tarball_is_unpacked_aside_marked_and_renamed_into_place(tmp_path):
    tarball = make_tarball(tmp_path / "jdk.tar.gz")
    java_dir = tmp_path / "usr-java"
    (java_dir / "jdk-17.0.15").mkdir(parents=True)  # one there already is replaced whole
    (java_dir / "jdk-17.0.15" / "old").write_text("old")
    done = run_locally("jdk.sh", "tarball", tarball, java_dir, "jdk-17.0.15", SHA)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in java_dir.iterdir()) == ["jdk-17.0.15"], "no partial left beside it"
    assert (java_dir / "jdk-17.0.15" / ".clusterctl-package.sha256").read_text() == SHA + "\n"
    assert (java_dir / "jdk-17.0.15" / "bin" / "java").exists() and not (java_dir / "jdk-17.0.15" / "old").exists()


def test_a_tarball_without_its_directory_is_refused_and_leaves_nothing(tmp_path):
    tarball = make_tarball(tmp_path / "jdk.tar.gz", top="other")
    done = run_locally("jdk.sh", "tarball", tarball, tmp_path / "usr-java", "jdk-17.0.15", SHA)
    assert done.returncode == 1 and b"did not unpack into jdk-17.0.15/" in done.stderr
    assert list((tmp_path / "usr-java").iterdir()) == []


# -- plan() from raw facts --------------------------------------------------------------

def make_tarball(path: Path, top: str = "jdk-17.0.15") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((f"{top}/bin/java", b"#!/bin/sh\n"), (f"{top}/release", b"JAVA_VERSION=\"17\"\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_plan_reads_raw_facts(tmp_path):
    package = make_tarball(tmp_path / "jdk-17.0.15_linux-x64_bin.tar.gz")
    inventory_file = tmp_path / "cluster.toml"
    inventory_file.write_text(f'[hosts.node1]\naddress = "10.0.0.1"\n[jdk]\npackage = "{package}"\n')
    inventory = load_inventory(inventory_file)
    raw = {q.name: Fact("", 1) for q in jdk.facts(inventory.jdk)}
    raw["jdk.tool"] = Fact("/usr/bin/tar\n/usr/bin/gzip\n", 0)
    changes = [c for step in (jdk.JdkStage(), jdk.JdkInstall())
               for c in step.decide(inventory, {"node1": raw})["node1"].changes]
    size = package.stat().st_size
    assert [c.summary for c in changes] == [
        f"stage jdk-17.0.15_linux-x64_bin.tar.gz ({size} B) in /opt/apps",
        "install jdk-17.0.15 from jdk-17.0.15_linux-x64_bin.tar.gz with unpacking into /usr/java",
        "point /usr/java/default at jdk-17.0.15",
        "write /etc/profile.d/java.sh (JAVA_HOME, PATH)",
    ]


# -- the check -----------------------------------------------------------------------

LOGIN_OK = """JAVA_HOME=/usr/java/default
java=/usr/java/default/bin/java
openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
"""


def test_a_working_login_shell_java():
    check = JavaCheck.from_fact(Fact(LOGIN_OK, 0))
    assert (check.version, check.java) == ("17.0.15", "/usr/java/default/bin/java")
    assert check.runtime.startswith("OpenJDK Runtime Environment")
    assert check.problem("/usr/java/default") is None


@pytest.mark.parametrize("output, problem", [
    ("JAVA_HOME=\njava=\nbash: line 1: java: command not found\n", "no java in a login shell's PATH"),
    ("JAVA_HOME=/usr/java/default\njava=/usr/bin/java\nopenjdk version \"11.0.2\"\n",
     "a login shell runs /usr/bin/java, not /usr/java/default/bin/java"),
    ("JAVA_HOME=\njava=/usr/java/default/bin/java\nopenjdk version \"17\"\n",
     "a login shell has JAVA_HOME=(unset), not /usr/java/default"),
    ("JAVA_HOME=/usr/java/default\njava=/usr/java/default/bin/java\nError: could not open `lib/jvm.cfg'\n",
     "java -version failed: Error: could not open `lib/jvm.cfg'"),
])
def test_a_broken_login_shell_java_says_why(output, problem):
    assert JavaCheck.from_fact(Fact(output, 1)).problem("/usr/java/default") == problem


# -- package files ---------------------------------------------------------------------

def rpm_header(entries: list[tuple[int, int, bytes]]) -> bytes:
    index, store = b"", b""
    for tag, kind, data in entries:
        index += struct.pack(">IIII", tag, kind, len(store), 1)
        store += data
    return b"\x8e\xad\xe8\x01\0\0\0\0" + struct.pack(">II", len(entries), len(store)) + index + store


def test_rpm_identity_from_its_header(tmp_path):
    lead = b"\xed\xab\xee\xdb" + bytes(92)
    signature = rpm_header([(1000, 7, b"12345")])  # 5 bytes of data: padded to 8 before the header
    header = rpm_header([(1000, 6, b"jdk-17\0"), (1001, 6, b"17.0.15\0"), (1002, 6, b"1\0"), (1022, 6, b"x86_64\0")])
    pad = bytes(-(len(lead) + len(signature)) % 8)
    path = tmp_path / "x.rpm"
    path.write_bytes(lead + signature + pad + header + b"payload")
    identity = read_rpm_identity(path)
    assert identity == PackageIdentity("jdk-17", "17.0.15-1", "x86_64")
    assert identity.rpm_nevra == "jdk-17-17.0.15-1.x86_64"


def test_a_file_that_is_not_an_rpm_is_refused(tmp_path):
    path = tmp_path / "x.rpm"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(PackageFileError, match="not an rpm"):
        read_rpm_identity(path)


def ar_member(name: str, data: bytes) -> bytes:
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def test_deb_identity_from_its_control_file(tmp_path):
    control = b"Package: jdk-17\nVersion: 17.0.15\nArchitecture: amd64\nDescription: JDK\n more\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("./control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control))
    path = tmp_path / "x.deb"
    path.write_bytes(b"!<arch>\n" + ar_member("debian-binary", b"2.0\n")
                     + ar_member("control.tar.gz", gzip.compress(buffer.getvalue()))
                     + ar_member("data.tar.xz", b"..."))
    assert read_deb_identity(path) == PackageIdentity("jdk-17", "17.0.15", "amd64")


def test_tarball_top_dir(tmp_path):
    assert tarball_top_dir(make_tarball(tmp_path / "x.tar.gz", "jdk1.8.0_202")) == "jdk1.8.0_202"
    (tmp_path / "bad.tar.gz").write_bytes(b"nope")
    with pytest.raises(PackageFileError):
        tarball_top_dir(tmp_path / "bad.tar.gz")


def test_package_identity_is_read_once_per_file_content(tmp_path):
    package = make_tarball(tmp_path / "jdk.tar.gz")
    spec = replace(SPEC, package=package, kind="tarball")
    first = jdk.describe_package(spec)
    assert first.file.sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    assert jdk.describe_package(spec) is first
