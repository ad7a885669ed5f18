"""What a local package file says it is, read on the controller without rpm or dpkg.

The JDK step asks a host "is exactly this package installed?" in the gather
round trip, before the package is staged there; so the name and version have
to come from the local file itself.
"""

from __future__ import annotations

import io
import lzma
import struct
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import PackageFileError

_RPM_LEAD = b"\xed\xab\xee\xdb"
_RPM_HEADER = b"\x8e\xad\xe8\x01"
_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1022: "arch"}
_RPM_STRING, _RPM_INT32 = 6, 4


@dataclass(frozen=True)
class PackageIdentity:
    """A binary package's name, version and architecture, as its own manager spells them."""

    name: str
    version: str  # rpm: VERSION-RELEASE (with EPOCH: in front if set); deb: the Version field
    arch: str

    @property
    def rpm_nevra(self) -> str:
        """name-version-release.arch, as ``rpm -q`` prints it (without the epoch)."""
        return f"{self.name}-{self.version.split(':', 1)[-1]}.{self.arch}"


def _rpm_header(data: bytes, offset: int, path: Path) -> tuple[dict[int, object], int]:
    """The tags of the header structure at ``offset`` and where it ends."""
    if data[offset:offset + 4] != _RPM_HEADER:
        raise PackageFileError(f"{path} is not an rpm package (no header at byte {offset})")
    count, size = struct.unpack(">II", data[offset + 8:offset + 16])
    index = offset + 16
    store = index + 16 * count
    tags: dict[int, object] = {}
    for i in range(count):
        tag, kind, at, n = struct.unpack(">IIII", data[index + 16 * i:index + 16 * (i + 1)])
        if tag not in _RPM_TAGS:
            continue
        if kind == _RPM_STRING:
            end = data.index(b"\0", store + at)
            tags[tag] = data[store + at:end].decode()
        elif kind == _RPM_INT32:
            tags[tag] = struct.unpack(">I", data[store + at:store + at + 4])[0]
    return tags, store + size


def read_rpm_identity(path: Path) -> PackageIdentity:
    """Name, version-release and arch from an rpm's header (the lead, then the signature, then the header)."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)  # the headers of a package with a few thousand files fit easily
    if data[:4] != _RPM_LEAD:
        raise PackageFileError(f"{path} is not an rpm package")
    try:
        _, end = _rpm_header(data, 96, path)
        tags, _ = _rpm_header(data, (end + 7) // 8 * 8, path)  # the signature is padded to 8 bytes
    except (struct.error, ValueError) as exc:
        raise PackageFileError(f"{path}: cannot read the rpm header ({exc})") from None
    if not all(t in tags for t in (1000, 1001, 1002, 1022)):
        raise PackageFileError(f"{path}: the rpm header lacks a name, version, release or arch")
    version = f"{tags[1001]}-{tags[1002]}"
    if 1003 in tags:
        version = f"{tags[1003]}:{version}"
    return PackageIdentity(str(tags[1000]), version, str(tags[1022]))


def _deb_members(data: bytes, path: Path):
    """(name, bytes) of each member of a .deb's ar archive."""
    if not data.startswith(b"!<arch>\n"):
        raise PackageFileError(f"{path} is not a deb package")
    at = 8
    while at + 60 <= len(data):
        header = data[at:at + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, data[at + 60:at + 60 + size]
        at += 60 + size + (size & 1)


def read_deb_identity(path: Path) -> PackageIdentity:
    """Package, Version and Architecture from a .deb's control file (control.tar gz, xz or plain)."""
    with open(path, "rb") as fh:
        head = fh.read(4 << 20)  # control.tar comes before data.tar
    for name, blob in _deb_members(head, path):
        if not name.startswith("control.tar"):
            continue
        if name.endswith(".zst"):
            raise PackageFileError(f"{path}: its control.tar is zstd-compressed, which clusterctl cannot read; "
                                   "repack it with 'dpkg-deb -Zxz' or use the .rpm or .tar.gz")
        if name.endswith(".gz"):
            blob = zlib.decompress(blob, 16 + zlib.MAX_WBITS)
        elif name.endswith(".xz"):
            blob = lzma.decompress(blob)
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "control"), None)
            if member is None:
                break
            fields = parse_control(tar.extractfile(member).read().decode())
        if not all(k in fields for k in ("Package", "Version", "Architecture")):
            break
        return PackageIdentity(fields["Package"], fields["Version"], fields["Architecture"])
    raise PackageFileError(f"{path}: no control file with Package, Version and Architecture")


def parse_control(text: str) -> dict[str, str]:
    """The fields of a Debian control paragraph (continuation lines dropped)."""
    fields = {}
    for line in text.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


def tarball_top_dir(path: Path) -> str:
    """The one directory a release tarball unpacks into (jdk-17.0.15), from its first member."""
    try:
        with tarfile.open(path, "r:*") as tar:
            first = tar.next()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageFileError(f"{path} is not a readable tar archive: {exc}") from None
    top = first.name.lstrip("./").split("/", 1)[0] if first else ""
    if not top or top in ("..",):
        raise PackageFileError(f"{path} does not unpack into one top directory")
    return top
