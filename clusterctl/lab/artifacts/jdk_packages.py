"""What the JDK's rpm and deb share: Oracle's layout under /usr/java and the tool runner.

Both packages install the JDK under /usr/java/jdk-<ver> and point
/usr/java/latest at it; /usr/java/default is made to follow latest unless it
already points somewhere that exists (an administrator's choice, which
Oracle's packages also leave alone). The links are relative, so they also
resolve when a package is installed into another root (``rpm --root``,
``dpkg --root``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from .errors import ArtifactError, missing_package
from .jdk import JdkSource
from .members import FIXED_MTIME, Member, with_parents

JAVA_DIR = "/usr/java"


@dataclass(frozen=True)
class JdkPackage:
    """Names and places shared by the rpm and the deb of one JDK."""

    name: str  # jdk-17: one package per feature release, so 17 and 21 can sit side by side
    version: str  # 17.0.15
    jdk_dir: str  # jdk-17.0.15, the directory under /usr/java

    @property
    def install_path(self) -> str:
        return f"{JAVA_DIR}/{self.jdk_dir}"

    @classmethod
    def of(cls, jdk: JdkSource) -> "JdkPackage":
        return cls(name=f"jdk-{jdk.feature}", version=jdk.version, jdk_dir=jdk.dir_name)


def package_members(jdk: JdkSource) -> list[Member]:
    """The JDK's members placed at usr/java/jdk-<ver>, with the usr and usr/java directories."""
    return with_parents(jdk.members(top=JdkPackage.of(jdk).install_path.lstrip("/")))


def find_tool(name: str, apt_package: str) -> str:
    """The path of a packaging tool, or ArtifactError naming the Debian package that has it."""
    path = shutil.which(name)
    if path is None:
        raise missing_package(name, "PATH", apt_package)
    return path


def run_tool(argv: list[str], what: str) -> None:
    """Run a packaging tool reproducibly (SOURCE_DATE_EPOCH); a failure is one ArtifactError line."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(FIXED_MTIME), LC_ALL="C")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
        raise ArtifactError(f"{what} failed (exit {proc.returncode}): {lines[-1] if lines else 'no output'}")
