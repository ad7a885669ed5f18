"""The JDK as an rpm, installing like Oracle's (see jdk_packages for the layout)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .cache import build_cached
from .jdk import detect_jdk
from .jdk_packages import JAVA_DIR, JdkPackage, find_tool, package_members, run_tool
from .members import materialize

RPM_RECIPE = "jdk-rpm/1"
RPM_PAYLOAD = "w6.gzdio"


# Lua scriptlets run inside rpm itself: no /bin/sh requirement is added, so the
# package installs with a plain `rpm -ivh` on Debian (whose rpm database knows
# no /bin/sh) and into an empty --root. rpm's posix.stat does not follow links,
# posix.access does: it is the "does this link resolve" test.
def render_rpm_spec(pkg: JdkPackage, arch: str) -> str:
    """The spec rpmbuild turns into the JDK rpm; the payload is a prepared build root."""
    return f"""\
Name: {pkg.name}
Version: {pkg.version}
Release: 1
Summary: Java Platform Standard Edition Development Kit {pkg.version}
License: GPLv2 with Classpath Exception
BuildArch: {arch}
AutoReqProv: no

%description
The OpenJDK {pkg.version} development kit, repackaged by clusterctl from Debian's
openjdk packages, installed under {pkg.install_path} like Oracle's JDK rpm.

%post -p <lua>
local java_dir = "{JAVA_DIR}"
local latest, default = java_dir .. "/latest", java_dir .. "/default"
os.remove(latest)
posix.symlink("{pkg.jdk_dir}", latest)
if not posix.access(default) then
  os.remove(default)
  posix.symlink("latest", default)
end

%postun -p <lua>
-- arg[2] is the number of instances left: 0 on erase, 1 on upgrade
if tonumber(arg[2]) == 0 then
  local java_dir = "{JAVA_DIR}"
  local latest, default = java_dir .. "/latest", java_dir .. "/default"
  if posix.readlink(latest) == "{pkg.jdk_dir}" then os.remove(latest) end
  if posix.readlink(default) and not posix.access(default) then os.remove(default) end
end

%files
%defattr(-,root,root,-)
{pkg.install_path}
"""


def rpmbuild_argv(rpmbuild: str, spec: Path, work: Path, buildroot: Path) -> list[str]:
    """rpmbuild's command line: the payload is the build root as staged, untouched by brp
    scripts (no strip, no build-id links), and the output reproducible."""
    defines = {
        "_topdir": work / "top",
        "_rpmdir": work / "rpms",
        "_dbpath": work / "rpmdb",  # keep rpmbuild away from the invoking user's rpm database
        "_build_name_fmt": "out.rpm",
        "__os_install_post": "%{nil}",
        "_build_id_links": "none",
        "debug_package": "%{nil}",
        "_binary_payload": RPM_PAYLOAD,
        "_buildhost": "clusterctl",
        "use_source_date_epoch_as_buildtime": "1",
        "clamp_mtime_to_source_date_epoch": "1",
    }
    argv = [rpmbuild, "-bb", "--quiet", "--buildroot", str(buildroot)]
    for name, value in defines.items():
        argv += ["--define", f"{name} {value}"]
    return argv + [str(spec)]


def build_jdk_rpm(out_dir: Path, jdk_home: Path | None = None) -> Path:
    """Build (or reuse) ``out_dir/jdk-<ver>_linux-<arch>_bin.rpm``, package ``jdk-<feature>``:
    installs /usr/java/jdk-<ver> and the /usr/java/latest and default links."""
    jdk = detect_jdk(jdk_home)
    rpmbuild = find_tool("rpmbuild", "rpm")
    pkg = JdkPackage.of(jdk)
    members = package_members(jdk)
    spec_text = render_rpm_spec(pkg, jdk.arch.rpm)
    artifact = Path(out_dir) / jdk.artifact_name("rpm")

    def build(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".rpmbuild-") as work_name:
            work = Path(work_name)
            buildroot = work / "buildroot"
            materialize(members, buildroot)
            spec = work / f"{pkg.name}.spec"
            spec.write_text(spec_text)
            run_tool(rpmbuild_argv(rpmbuild, spec, work, buildroot), "rpmbuild")
            os.replace(work / "rpms" / "out.rpm", tmp)

    return build_cached(artifact, members, f"{RPM_RECIPE} {RPM_PAYLOAD}\n{spec_text}", build)
