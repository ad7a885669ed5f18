"""Which jars ZooKeeper needs at run time, read from the jars themselves.

Debian's zookeeper.jar declares its classpath in its manifest (Class-Path),
but that list stops at its direct dependencies: netty-handler needs
netty-codec, jetty-server needs the servlet API, and so on. Those needs are in
the dependencies' OSGi headers (Import-Package), which name packages; the jar
that exports each package (Export-Package) is found among the system's jars.
Following both to a fixed point gives the runtime classpath.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_JAR_DIR = Path("/usr/share/java")


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a MANIFEST.MF as a dict, continuation lines joined."""
    joined = re.sub(r"\r?\n ", "", text.replace("\r\n", "\n"))
    headers = {}
    for line in joined.split("\n"):
        if not line.strip():
            break  # the main section ends at the first blank line
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return headers


def read_manifest(jar: Path) -> dict[str, str]:
    """``jar``'s manifest headers; empty if it has none or is not a zip."""
    try:
        with zipfile.ZipFile(jar) as zf:
            return parse_manifest(zf.read("META-INF/MANIFEST.MF").decode("utf-8", "replace"))
    except (KeyError, zipfile.BadZipFile, OSError):
        return {}


def osgi_clauses(header: str) -> list[str]:
    """An OSGi header split into clauses at the commas that are not inside quotes."""
    clauses, current, quoted = [], [], False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            clauses.append("".join(current))
            current = []
        else:
            current.append(char)
    clauses.append("".join(current))
    return [c.strip() for c in clauses if c.strip()]


def clause_packages(clause: str) -> list[str]:
    """The package names a clause applies to (``a;b;version=1`` applies to a and b)."""
    return [part.strip() for part in clause.split(";") if part.strip() and "=" not in part]


def mandatory_imports(header: str) -> list[str]:
    """Packages an Import-Package header requires, leaving out ``resolution:=optional`` ones."""
    packages = []
    for clause in osgi_clauses(header):
        if re.search(r";\s*resolution\s*:=\s*\"?optional", clause):
            continue
        packages += clause_packages(clause)
    return packages


def exported_packages(header: str) -> list[str]:
    """Packages an Export-Package header offers."""
    return [pkg for clause in osgi_clauses(header) for pkg in clause_packages(clause)]


def versioned_jar_name(real_name: str, aliases: list[str]) -> str:
    """The name to give a jar in a release's lib/: Debian's versioned alias of it
    (jackson-core-2.14.1.jar for jackson-core.jar) when there is one, else its own name."""
    stem = real_name.removesuffix(".jar")
    versioned = sorted(a for a in aliases if re.fullmatch(re.escape(stem) + r"-\d[\w.+~-]*\.jar", a))
    return versioned[0] if versioned else real_name


@dataclass
class JarIndex:
    """The real (non-symlink) jars of a directory: who exports which package, and their aliases."""

    exporters: dict[str, list[Path]] = field(default_factory=dict)
    aliases: dict[Path, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, jar_dir: Path) -> "JarIndex":
        index = cls()
        for jar in sorted(jar_dir.glob("*.jar")):
            real = jar.resolve()
            index.aliases.setdefault(real, []).append(jar.name)
            if jar.is_symlink():
                continue
            for package in exported_packages(read_manifest(jar).get("Export-Package", "")):
                index.exporters.setdefault(package, []).append(real)
        return index


@dataclass(frozen=True)
class RuntimeJars:
    """A resolved classpath: the jars (real files), the name each gets in a release's lib/,
    and declared entries that are not installed."""

    jars: list[Path]
    lib_names: dict[Path, str]
    missing: list[str]


def resolve_runtime_jars(seeds: list[Path], jar_dir: Path = SYSTEM_JAR_DIR) -> RuntimeJars:
    """The seeds and everything they need, as real files in discovery order.

    Class-Path entries are followed as the JVM would (relative ones against
    the jar's directory); a missing entry is reported, not fatal, since the
    JVM skips it too (Debian's zookeeper.jar lists jline.jar, only needed for
    an interactive zkCli). A package exported by several jars is taken from
    one already chosen, else from the first by name.
    """
    index = JarIndex.of(jar_dir)
    chosen: list[Path] = []
    missing: list[str] = []
    queue = [Path(seed) for seed in seeds]
    while queue:
        jar = queue.pop(0)
        if not jar.exists():
            if str(jar) not in missing:
                missing.append(str(jar))
            continue
        real = jar.resolve()
        if real in chosen:
            continue
        chosen.append(real)
        headers = read_manifest(real)
        queue += [jar.parent / entry for entry in headers.get("Class-Path", "").split()]
        for package in mandatory_imports(headers.get("Import-Package", "")):
            providers = index.exporters.get(package, [])
            if providers and not any(p in chosen for p in providers):
                queue.append(providers[0])
    names = {jar: versioned_jar_name(jar.name, index.aliases.get(jar, [])) for jar in chosen}
    return RuntimeJars(jars=chosen, lib_names=names, missing=missing)
