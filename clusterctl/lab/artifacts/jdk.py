"""The JDK that apt installed, and a vendor-style tarball of it."""

from __future__ import annotations

import platform
import shlex
from dataclasses import dataclass
from pathlib import Path

from .cache import build_cached
from .errors import ArtifactError, missing_package
from .members import Member, members_from_tree
from .tarball import COMPRESS_LEVEL, write_tar_gz

JDK_APT_PACKAGE = "openjdk-17-jdk-headless"
TARBALL_RECIPE = "jdk-tarball/1"

# Dropped from every JDK artifact: module files (only jlink needs them), docs,
# man pages and sources; and Debian's GTK accessibility bridge, a link out of
# the JDK to a library that needs a desktop stack.
JDK_EXCLUDED = ("jmods", "docs", "man", "demo", "sample", "lib/src.zip", "lib/libatk-wrapper.so")


@dataclass(frozen=True)
class ArchNames:
    """One CPU architecture as each packaging world spells it."""

    rpm: str
    deb: str
    vendor: str  # as in Oracle's file names: jdk-17.0.15_linux-x64_bin.tar.gz


ARCHES = {
    "x86_64": ArchNames(rpm="x86_64", deb="amd64", vendor="x64"),
    "amd64": ArchNames(rpm="x86_64", deb="amd64", vendor="x64"),
    "aarch64": ArchNames(rpm="aarch64", deb="arm64", vendor="aarch64"),
    "arm64": ArchNames(rpm="aarch64", deb="arm64", vendor="aarch64"),
}


def arch_names(machine: str) -> ArchNames:
    """Names of ``machine`` (as uname or a JDK release file says it) for rpm, deb and file names."""
    try:
        return ARCHES[machine]
    except KeyError:
        raise ArtifactError(f"unsupported CPU architecture {machine!r} (known: {', '.join(sorted(ARCHES))})")


def default_jdk_home(machine: str | None = None) -> Path:
    """Where Debian's openjdk-17 lives on this machine's architecture."""
    return Path(f"/usr/lib/jvm/java-17-openjdk-{arch_names(machine or platform.machine()).deb}")


def parse_release_file(text: str) -> dict[str, str]:
    """The KEY="value" pairs of a JDK ``release`` file."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            parts = shlex.split(value, posix=True) if value.strip() else [""]
            values[key.strip()] = parts[0] if parts else ""
    return values


def jdk_member_excluded(rel: str) -> bool:
    """True for JDK paths (relative to its home) that the artifacts leave out."""
    return any(rel == prefix or rel.startswith(prefix + "/") for prefix in JDK_EXCLUDED)


@dataclass(frozen=True)
class JdkSource:
    """An installed JDK to package: its home, version (17.0.15) and CPU architecture."""

    home: Path
    version: str
    arch: ArchNames

    @property
    def feature(self) -> str:
        """The feature release, "17" for 17.0.15."""
        return self.version.split(".")[0]

    @property
    def dir_name(self) -> str:
        """The top directory of the tarball and the directory under /usr/java: jdk-17.0.15."""
        return f"jdk-{self.version}"

    def artifact_name(self, suffix: str) -> str:
        """Oracle-style file name: jdk-17.0.15_linux-x64_bin.<suffix>."""
        return f"jdk-{self.version}_linux-{self.arch.vendor}_bin.{suffix}"

    def members(self, top: str | None = None) -> list[Member]:
        """The JDK's files under ``top`` (default: its dir name), excluded parts dropped, links
        out of the JDK (Debian's /etc/java-17-openjdk, cacerts) followed."""
        return members_from_tree(self.home, top or self.dir_name, jdk_member_excluded)


def detect_jdk(jdk_home: Path | None = None) -> JdkSource:
    """The JDK at ``jdk_home`` (default: Debian's openjdk-17), or ArtifactError naming the fix."""
    home = Path(jdk_home) if jdk_home else default_jdk_home()
    if not (home / "bin" / "java").exists():
        raise missing_package("JDK", home, JDK_APT_PACKAGE)
    if not (home / "bin" / "javac").exists():
        raise missing_package("javac (a JRE is there, not a JDK)", home / "bin", JDK_APT_PACKAGE)
    try:
        release = parse_release_file((home / "release").read_text())
    except OSError:
        raise ArtifactError(f"{home}/release is missing: cannot tell the JDK's version")
    version = release.get("JAVA_VERSION", "")
    if not version[:1].isdigit():
        raise ArtifactError(f"{home}/release has no usable JAVA_VERSION ({version!r})")
    return JdkSource(home=home.resolve(), version=version,
                     arch=arch_names(release.get("OS_ARCH") or platform.machine()))


def build_jdk_tarball(out_dir: Path, jdk_home: Path | None = None) -> Path:
    """Build (or reuse) ``out_dir/jdk-<ver>_linux-<arch>_bin.tar.gz``: one top directory
    ``jdk-<ver>/``, a working self-contained JDK without jmods, docs, man pages or src.zip."""
    jdk = detect_jdk(jdk_home)
    members = jdk.members()
    artifact = Path(out_dir) / jdk.artifact_name("tar.gz")
    recipe = f"{TARBALL_RECIPE} gzip-{COMPRESS_LEVEL}"
    return build_cached(artifact, members, recipe, lambda tmp: write_tar_gz(members, tmp))
