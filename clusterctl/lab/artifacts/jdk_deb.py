"""The JDK as a deb, same layout and links as the rpm (see jdk_packages)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .cache import build_cached
from .jdk import detect_jdk
from .jdk_packages import JAVA_DIR, JdkPackage, find_tool, package_members, run_tool
from .members import FILE, Member, materialize, with_parents

DEB_RECIPE = "jdk-deb/1"
DEB_COMPRESSION = ("-Zgzip", "-z6")  # xz would take a minute for 190 MB on two cores
MAINTAINER = "clusterctl <clusterctl@localhost>"


def render_deb_control(pkg: JdkPackage, arch: str, installed_size_kib: int) -> str:
    """DEBIAN/control for the JDK deb: no Depends, so `dpkg -i` has nothing unmet."""
    return f"""\
Package: {pkg.name}
Version: {pkg.version}
Architecture: {arch}
Maintainer: {MAINTAINER}
Installed-Size: {installed_size_kib}
Section: java
Priority: optional
Description: Java SE Development Kit {pkg.version}
 The OpenJDK {pkg.version} development kit, repackaged by clusterctl from
 Debian's openjdk packages, installed under {pkg.install_path} like Oracle's JDK.
"""


# DPKG_ROOT is set when dpkg installs into another root without chroot
# (--force-script-chrootless); it is empty for a normal install.
def render_deb_postinst(pkg: JdkPackage) -> str:
    """DEBIAN/postinst: point latest at this JDK, and default at latest unless it resolves already."""
    return f"""\
#!/bin/sh
set -e
java_dir="${{DPKG_ROOT:-}}{JAVA_DIR}"
if [ "$1" = configure ]; then
    ln -sfn {pkg.jdk_dir} "$java_dir/latest"
    if [ ! -e "$java_dir/default" ]; then
        rm -f "$java_dir/default"
        ln -s latest "$java_dir/default"
    fi
fi
exit 0
"""


# The links go in prerm, not postrm: dpkg removes the package's directories
# between the two, and /usr/java must be empty by then to go away cleanly.
def render_deb_prerm(pkg: JdkPackage) -> str:
    """DEBIAN/prerm: on removal, drop the links that would point at this JDK once it is gone."""
    return f"""\
#!/bin/sh
set -e
java_dir="${{DPKG_ROOT:-}}{JAVA_DIR}"
if [ "$1" = remove ]; then
    if [ "$(readlink "$java_dir/latest" || true)" = {pkg.jdk_dir} ]; then
        rm -f "$java_dir/latest"
    fi
    case "$(readlink "$java_dir/default" || true)" in
        {pkg.jdk_dir}) rm -f "$java_dir/default" ;;
        latest) [ -e "$java_dir/latest" ] || rm -f "$java_dir/default" ;;
    esac
fi
exit 0
"""


def installed_size_kib(members: list[Member]) -> int:
    """Installed-Size as dpkg-gencontrol counts it: 1 KiB per directory or link, file sizes rounded up."""
    return sum(-(-m.size() // 1024) if m.kind == FILE else 1 for m in members)


def build_jdk_deb(out_dir: Path, jdk_home: Path | None = None) -> Path:
    """Build (or reuse) ``out_dir/jdk-<ver>_linux-<arch>_bin.deb``, package ``jdk-<feature>``:
    same layout and links as the rpm, no dependencies."""
    jdk = detect_jdk(jdk_home)
    dpkg_deb = find_tool("dpkg-deb", "dpkg")
    pkg = JdkPackage.of(jdk)
    members = package_members(jdk)
    control = {
        "control": (render_deb_control(pkg, jdk.arch.deb, installed_size_kib(members)), 0o644),
        "postinst": (render_deb_postinst(pkg), 0o755),
        "prerm": (render_deb_prerm(pkg), 0o755),
    }
    artifact = Path(out_dir) / jdk.artifact_name("deb")

    def build(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".dpkg-deb-") as work_name:
            root = Path(work_name) / "root"
            control_members = [Member(f"DEBIAN/{name}", FILE, mode, data=text.encode())
                               for name, (text, mode) in control.items()]
            materialize(with_parents(control_members) + members, root)
            run_tool([dpkg_deb, "--root-owner-group", *DEB_COMPRESSION, "--build", str(root), str(tmp)], "dpkg-deb")

    recipe = "\n".join([DEB_RECIPE, *DEB_COMPRESSION, *(text for text, _ in control.values())])
    return build_cached(artifact, members, recipe, build)
