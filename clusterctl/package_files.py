"""What a local package file says it is, read on the controller without rpm or dpkg.

The JDK step asks a host "is exactly this package installed?" in the gather
round trip, before the package is staged there; so the name and version have
to come from the local file itself. The inventory loader reads the same
headers to refuse a broken package before any host is contacted, so every
reader here is cheap (headers only) and raises nothing but PackageFileError,
whatever the bytes.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import struct
import tarfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from .errors import PackageFileError

_RPM_LEAD = b"\xed\xab\xee\xdb"
_RPM_LEAD_SIZE = 96
_RPM_HEADER = b"\x8e\xad\xe8\x01"
_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1022: "arch"}
# The signature's size of header plus payload: how long an rpm that is not cut short is.
_RPM_SIGNATURE_SIZE, _RPM_SIGNATURE_LONGSIZE = 1000, 270
_RPM_STRING, _RPM_INT32, _RPM_INT64 = 6, 4, 5
# A real header has some hundred entries and a store of a few hundred KiB; far more is garbage.
_RPM_MOST_ENTRIES, _RPM_LARGEST_STORE = 1 << 16, 64 << 20

_AR_MAGIC = b"!<arch>\n"
_AR_HEADER_SIZE = 60
_CONTROL_LARGEST = 16 << 20  # a control.tar holds a few KiB of scripts; more is not a package

# These end up in remote commands (rpm -q NAME, dpkg-query, mv TOP_DIR), so they
# must look like what rpm, dpkg and release tarballs really use.
_PACKAGE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~^:-]{0,255}")
_TOP_DIR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}")

# What decoders of bad bytes raise: a short read, a bad length, a bad stream.
_CORRUPT = (OSError, EOFError, ValueError, IndexError, KeyError, OverflowError, struct.error,
            zlib.error, lzma.LZMAError, tarfile.TarError)


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


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


@contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Whatever reading ``what`` of ``path`` raises on bad bytes becomes one PackageFileError."""
    try:
        yield
    except _CORRUPT as exc:
        raise PackageFileError(f"{path}: cannot read {what} ({_reason(exc)})") from None


def _package_identity(path: Path, name: object, version: object, arch: object) -> PackageIdentity:
    for field, value in (("name", name), ("version", version), ("arch", arch)):
        if not isinstance(value, str) or not _PACKAGE_WORD.fullmatch(value):
            raise PackageFileError(f"{path}: the package {field} {str(value)[:60]!r} is not one rpm or dpkg would write")
    return PackageIdentity(name, version, arch)


def _read_exactly(fh: BinaryIO, size: int, path: Path, where: str) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise PackageFileError(f"{path} is truncated inside {where}")
    return data


def _rpm_header(fh: BinaryIO, offset: int, path: Path, wanted: set[int]) -> tuple[dict[int, object], int]:
    """The ``wanted`` tags of the header structure at ``offset`` and where it ends."""
    fh.seek(offset)
    intro = fh.read(16)
    if len(intro) != 16 or intro[:4] != _RPM_HEADER:
        raise PackageFileError(f"{path} is not an rpm package (no header at byte {offset})")
    count, size = struct.unpack(">II", intro[8:])
    if count > _RPM_MOST_ENTRIES or size > _RPM_LARGEST_STORE:
        raise PackageFileError(f"{path}: the rpm header at byte {offset} claims {count} entries in {size} bytes")
    index = _read_exactly(fh, 16 * count, path, f"the rpm header at byte {offset}")
    store = _read_exactly(fh, size, path, f"the rpm header at byte {offset}")
    tags: dict[int, object] = {}
    for tag, kind, at, _ in struct.iter_unpack(">IIII", index):
        if tag not in wanted:
            continue
        if kind == _RPM_STRING:
            tags[tag] = store[at:store.index(b"\0", at)].decode()
        elif kind == _RPM_INT32:
            tags[tag] = struct.unpack_from(">I", store, at)[0]
        elif kind == _RPM_INT64:
            tags[tag] = struct.unpack_from(">Q", store, at)[0]
    return tags, offset + 16 + 16 * count + size


def read_rpm_identity(path: Path) -> PackageIdentity:
    """Name, version-release and arch from an rpm's header (the lead, then the signature, then the header).

    Refuses a file shorter than its signature says the package is (a cut-short download).
    """
    with _reading(path, "the rpm header"), open(path, "rb") as fh:
        if fh.read(_RPM_LEAD_SIZE)[:4] != _RPM_LEAD:
            raise PackageFileError(f"{path} is not an rpm package")
        signature, end = _rpm_header(fh, _RPM_LEAD_SIZE, path, {_RPM_SIGNATURE_SIZE, _RPM_SIGNATURE_LONGSIZE})
        start = (end + 7) // 8 * 8  # the signature is padded to 8 bytes
        tags, _ = _rpm_header(fh, start, path, set(_RPM_TAGS))
        file_size = os.fstat(fh.fileno()).st_size
    declared = signature.get(_RPM_SIGNATURE_LONGSIZE, signature.get(_RPM_SIGNATURE_SIZE))
    if isinstance(declared, int) and file_size < start + declared:
        raise PackageFileError(f"{path} is truncated: its rpm header says {start + declared} bytes, "
                               f"the file has {file_size}")
    if not all(t in tags for t in (1000, 1001, 1002, 1022)):
        raise PackageFileError(f"{path}: the rpm header lacks a name, version, release or arch")
    version = f"{tags[1001]}-{tags[1002]}"
    if 1003 in tags:
        version = f"{tags[1003]}:{version}"
    return _package_identity(path, tags[1000], version, tags[1022])


def _deb_members(fh: BinaryIO, path: Path) -> list[tuple[str, int, int]]:
    """(name, offset, size) of each member of a .deb's ar archive, all of them inside the file."""
    if fh.read(len(_AR_MAGIC)) != _AR_MAGIC:
        raise PackageFileError(f"{path} is not a deb package")
    file_size = os.fstat(fh.fileno()).st_size
    members = []
    at = len(_AR_MAGIC)
    while at < file_size:
        fh.seek(at)
        header = fh.read(_AR_HEADER_SIZE)
        size_field = header[48:58].strip()
        if len(header) != _AR_HEADER_SIZE or header[58:] != b"`\n" or not size_field.isdigit():
            raise PackageFileError(f"{path}: broken ar member header at byte {at}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(size_field)
        if at + _AR_HEADER_SIZE + size > file_size:
            raise PackageFileError(f"{path} is truncated: its member {name!r} ends at byte "
                                   f"{at + _AR_HEADER_SIZE + size}, the file has {file_size}")
        members.append((name, at + _AR_HEADER_SIZE, size))
        at += _AR_HEADER_SIZE + size + (size & 1)
    return members


def _unpack_control(path: Path, name: str, blob: bytes) -> bytes:
    """The plain control.tar from a member named control.tar[.gz|.xz]."""
    if name == "control.tar":
        return blob
    if name == "control.tar.zst":
        raise PackageFileError(f"{path}: its control.tar is zstd-compressed, which clusterctl cannot read; "
                               "repack it with 'dpkg-deb -Zxz' or use the .rpm or .tar.gz")
    if name == "control.tar.gz":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(blob, _CONTROL_LARGEST)
        complete, more = inflater.eof, bool(inflater.unconsumed_tail)
    elif name == "control.tar.xz":
        inflater = lzma.LZMADecompressor()
        data = inflater.decompress(blob, max_length=_CONTROL_LARGEST)
        complete, more = inflater.eof, not inflater.needs_input and not inflater.eof
    else:
        raise PackageFileError(f"{path}: its {name} is in a compression clusterctl cannot read")
    if more:
        raise PackageFileError(f"{path}: its {name} unpacks to more than {_CONTROL_LARGEST >> 20} MiB")
    if not complete:
        raise PackageFileError(f"{path}: its {name} is cut short")
    return data


def read_deb_identity(path: Path) -> PackageIdentity:
    """Package, Version and Architecture from a .deb's control file (control.tar gz, xz or plain).

    Refuses a file shorter than its members say (a cut-short download).
    """
    with _reading(path, "the deb package"), open(path, "rb") as fh:
        members = _deb_members(fh, path)
        control = next(((name, at, size) for name, at, size in members if name.startswith("control.tar")), None)
        if control is None or not any(name.startswith("data.tar") for name, _, _ in members):
            raise PackageFileError(f"{path}: a deb package has a control.tar and a data.tar member, "
                                   f"this one has {', '.join(repr(m[0]) for m in members[:4]) or 'none'}")
        name, at, size = control
        fh.seek(at)
        blob = _unpack_control(path, name, fh.read(size))
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            member = next((m for m in tar.getmembers() if m.isfile() and m.name.lstrip("./") == "control"), None)
            text = tar.extractfile(member).read().decode() if member else ""
    fields = parse_control(text)
    if not all(k in fields for k in ("Package", "Version", "Architecture")):
        raise PackageFileError(f"{path}: no control file with Package, Version and Architecture")
    return _package_identity(path, fields["Package"], fields["Version"], fields["Architecture"])


def parse_control(text: str) -> dict[str, str]:
    """The fields of a Debian control paragraph (continuation lines dropped)."""
    fields = {}
    for line in text.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


def tarball_top_dir(path: Path) -> str:
    """The one directory a release tarball unpacks into (jdk-17.0.15), from its first member.

    The tarball must be gzip-compressed: hosts unpack it with ``tar -xzf``.
    """
    with _reading(path, "the tar archive"):
        try:
            with tarfile.open(path, "r:gz") as tar:
                first = tar.next()
        except tarfile.ReadError as exc:
            raise PackageFileError(f"{path} is not a readable tar archive: {_reason(exc)}") from None
    name = first.name if first else ""
    while name.startswith("./"):
        name = name[2:]
    top = name.split("/", 1)[0]
    if not _TOP_DIR.fullmatch(top):
        raise PackageFileError(f"{path} does not unpack into one top directory (its first member is {name[:60]!r})")
    return top


def tarball_lacks(path: Path, wanted: Mapping[str, re.Pattern]) -> tuple[str, list[str]]:
    """The tarball's top directory, and which of ``wanted`` no file or link in it matches.

    Each pattern is matched against a member's path below the top directory
    (``bin/java``). The member list is read only as far as it must be: until
    every pattern has matched, or to the end.
    """
    top = tarball_top_dir(path)
    left = dict(wanted)
    with _reading(path, "the tar archive"), tarfile.open(path, "r|gz") as tar:
        for member in tar:
            if not (member.isfile() or member.issym() or member.islnk()):
                continue
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            first, _, below = name.partition("/")
            found = [label for label, pattern in left.items() if first == top and pattern.fullmatch(below)]
            for label in found:
                del left[label]
            if not left:
                break
    return top, list(left)
