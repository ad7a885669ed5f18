"""An Apache-release-shaped ZooKeeper tarball, assembled from Debian's zookeeper packages."""

from __future__ import annotations

import re
import subprocess
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .cache import build_cached
from .errors import ArtifactError, missing_package
from .jars import SYSTEM_JAR_DIR, RuntimeJars, parse_manifest, resolve_runtime_jars
from .members import FILE, Member, normal_mode, with_parents
from .tarball import COMPRESS_LEVEL, write_tar_gz

ZK_APT_PACKAGE = "zookeeper"
ZK_BIN_DIR = Path("/usr/share/zookeeper/bin")
UPSTREAM_SCRIPTS = ("zkServer.sh", "zkCli.sh", "zkCleanup.sh")
RELEASE_RECIPE = "zookeeper-release/1"

# Debian builds ZooKeeper to log through SLF4J's log4j 1.2 binding
# (libzookeeper-java depends on liblog4j1.2-java for it); zookeeper.jar's
# manifest names only the SLF4J API, so the binding is a second seed.
LOGGING_BINDING = "slf4j-log4j12.jar"
LOGGING_PACKAGES = {LOGGING_BINDING: "libslf4j-java", "log4j-1.2.jar": "liblog4j1.2-java"}

# Files of the release that are not in Debian's packages, shipped with clusterctl.
PACKAGED_FILES = {"bin/zkEnv.sh": "zkEnv.sh", "conf/log4j.properties": "log4j.properties",
                  "conf/zoo_sample.cfg": "zoo_sample.cfg"}
# Files taken as they are when present: the same texts upstream's release carries.
OPTIONAL_FILES = {"NOTICE.txt": Path("/usr/share/doc/zookeeper/NOTICE.txt"),
                  "LICENSE.txt": Path("/usr/share/common-licenses/Apache-2.0"),
                  "conf/configuration.xsl": Path("/etc/zookeeper/conf_example/configuration.xsl")}


def upstream_version(debian_version: str) -> str:
    """The upstream part of a Debian version: 3.8.0 for 3.8.0-11+deb12u2 or 1:3.8.0-1."""
    without_epoch = debian_version.split(":", 1)[-1]
    return without_epoch.rsplit("-", 1)[0] if "-" in without_epoch else without_epoch


def parse_pom_properties(text: str) -> dict[str, str]:
    """key=value lines of a Maven pom.properties, comments skipped."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def jar_version(jar: Path) -> str | None:
    """The version a ZooKeeper jar says it is: its Maven pom.properties, else its manifest."""
    try:
        with zipfile.ZipFile(jar) as zf:
            names = [n for n in zf.namelist() if n.endswith("/zookeeper/pom.properties")]
            if names:
                version = parse_pom_properties(zf.read(names[0]).decode()).get("version")
                if version:
                    return version
            manifest = parse_manifest(zf.read("META-INF/MANIFEST.MF").decode("utf-8", "replace"))
            return manifest.get("Implementation-Version") or manifest.get("Bundle-Version")
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


def debian_package_version(package: str) -> str | None:
    """The installed version of a Debian package, or None (not installed, or no dpkg)."""
    try:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def release_name(version: str) -> str:
    """apache-zookeeper-<version>-bin: the release's top directory and file stem."""
    return f"apache-zookeeper-{version}-bin"


@dataclass(frozen=True)
class ZooKeeperSource:
    """Installed ZooKeeper pieces to assemble: version, upstream scripts and runtime jars."""

    version: str
    bin_dir: Path
    runtime: RuntimeJars
    debian_version: str | None = None


def detect_zookeeper(bin_dir: Path = ZK_BIN_DIR, jar_dir: Path = SYSTEM_JAR_DIR) -> ZooKeeperSource:
    """What Debian's zookeeper packages installed, or ArtifactError naming the package to install."""
    for script in UPSTREAM_SCRIPTS:
        if not (bin_dir / script).is_file():
            raise missing_package("ZooKeeper's scripts", bin_dir / script, ZK_APT_PACKAGE)
    zookeeper_jar = jar_dir / "zookeeper.jar"
    if not zookeeper_jar.is_file():
        raise missing_package("zookeeper.jar", zookeeper_jar, ZK_APT_PACKAGE)
    for jar, apt_package in LOGGING_PACKAGES.items():
        if not (jar_dir / jar).is_file():
            raise missing_package(f"{jar} (ZooKeeper's logging on Debian)", jar_dir / jar, apt_package)

    debian_version = debian_package_version(ZK_APT_PACKAGE)
    version = jar_version(zookeeper_jar) or (debian_version and upstream_version(debian_version))
    if not version or not re.fullmatch(r"\d+(\.\d+)+", version):
        raise ArtifactError(f"cannot tell the ZooKeeper version of {zookeeper_jar} (got {version!r})")
    runtime = resolve_runtime_jars([zookeeper_jar, jar_dir / LOGGING_BINDING], jar_dir)
    return ZooKeeperSource(version=version, bin_dir=bin_dir, runtime=runtime, debian_version=debian_version)


def render_readme(source: ZooKeeperSource) -> str:
    """README.txt of the release: what it is, where it came from, how to start it."""
    origin = f" {source.debian_version}" if source.debian_version else ""
    return f"""\
Apache ZooKeeper {source.version}, in the layout of Apache's binary release.

Assembled by clusterctl from Debian's zookeeper packages{origin}; not an
official Apache release.

  bin/   upstream's zkServer.sh, zkCli.sh and zkCleanup.sh, and a zkEnv.sh
         that finds conf/ and lib/ relative to itself; set JAVA_HOME or put
         java on PATH
  conf/  zoo_sample.cfg; log4j.properties (this build logs through log4j 1.2)
  lib/   ZooKeeper and its runtime dependencies

Start a standalone server:
  cp conf/zoo_sample.cfg conf/zoo.cfg && bin/zkServer.sh start
"""


def release_members(source: ZooKeeperSource) -> list[Member]:
    """Everything in the release tarball, under apache-zookeeper-<ver>-bin/, sorted."""
    top = release_name(source.version)
    members: list[Member] = []
    for script in UPSTREAM_SCRIPTS:
        members.append(Member(f"{top}/bin/{script}", FILE, 0o755, source=(source.bin_dir / script).resolve()))
    package_data = resources.files(__package__)
    for name, resource in PACKAGED_FILES.items():
        mode = 0o755 if name.endswith(".sh") else 0o644
        members.append(Member(f"{top}/{name}", FILE, mode, data=package_data.joinpath(resource).read_bytes()))
    for name, path in OPTIONAL_FILES.items():
        if path.is_file():
            real = path.resolve()
            members.append(Member(f"{top}/{name}", FILE, normal_mode(real.stat().st_mode, FILE), source=real))
    members.append(Member(f"{top}/README.txt", FILE, 0o644, data=render_readme(source).encode()))
    for jar in source.runtime.jars:
        members.append(Member(f"{top}/lib/{source.runtime.lib_names[jar]}", FILE, 0o644, source=jar))
    return with_parents(members)


def build_zookeeper_release(out_dir: Path) -> Path:
    """Build (or reuse) ``out_dir/apache-zookeeper-<ver>-bin.tar.gz`` from the installed
    zookeeper packages: bin/, conf/, lib/ (real jar files) under apache-zookeeper-<ver>-bin/."""
    source = detect_zookeeper()
    members = release_members(source)
    artifact = Path(out_dir) / f"{release_name(source.version)}.tar.gz"
    recipe = f"{RELEASE_RECIPE} gzip-{COMPRESS_LEVEL}"
    return build_cached(artifact, members, recipe, lambda tmp: write_tar_gz(members, tmp))
