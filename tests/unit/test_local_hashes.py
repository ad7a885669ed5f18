"""The package hashes remembered between runs: used while a file is unchanged, never after it changed."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from clusterctl.core import local_hashes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(local_hashes, "_in_process", {})
    local_hashes.remember_between_runs(True)
    yield local_hashes.cache_path()
    local_hashes.remember_between_runs(False)


def settled_file(path, content: bytes):
    path.write_bytes(content)
    old = path.stat().st_mtime_ns - 60 * 10**9
    os.utime(path, ns=(old, old))
    return path


def new_process(monkeypatch):
    monkeypatch.setattr(local_hashes, "_in_process", {})


def test_a_settled_files_hash_is_kept_and_read_back_by_the_next_run(cache, tmp_path, monkeypatch):
    pkg = settled_file(tmp_path / "jdk.rpm", b"abc")
    assert local_hashes.sha256_of(pkg) == hashlib.sha256(b"abc").hexdigest()
    entries = json.loads(cache.read_text())
    assert list(entries.values()) == [hashlib.sha256(b"abc").hexdigest()]
    # The next run takes the hash from the cache, not from the file: prove it with an entry of our own.
    cache.write_text(json.dumps({key: "f" * 64 for key in entries}))
    new_process(monkeypatch)
    assert local_hashes.sha256_of(pkg) == "f" * 64


def test_a_file_rewritten_with_the_same_size_and_mtime_is_hashed_again(cache, tmp_path, monkeypatch):
    pkg = settled_file(tmp_path / "jdk.rpm", b"abc")
    local_hashes.sha256_of(pkg)
    before = pkg.stat()
    pkg.write_bytes(b"xyz")
    os.utime(pkg, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -d` would put the time back
    new_process(monkeypatch)
    assert local_hashes.sha256_of(pkg) == hashlib.sha256(b"xyz").hexdigest()


def test_a_file_changed_just_now_is_not_remembered_between_runs(cache, tmp_path):
    pkg = tmp_path / "fresh.rpm"
    pkg.write_bytes(b"abc")
    assert local_hashes.sha256_of(pkg) == hashlib.sha256(b"abc").hexdigest()
    assert not cache.exists()


def test_a_run_that_may_leave_no_file_writes_no_cache(cache, tmp_path):
    local_hashes.remember_between_runs(False)
    local_hashes.sha256_of(settled_file(tmp_path / "jdk.rpm", b"abc"))
    assert not cache.exists()


def test_a_damaged_cache_is_ignored_and_replaced(cache, tmp_path):
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    assert local_hashes.sha256_of(settled_file(tmp_path / "a", b"abc")) == hashlib.sha256(b"abc").hexdigest()
    assert len(json.loads(cache.read_text())) == 1


def test_the_cache_keeps_only_the_newest_entries(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(local_hashes, "KEPT", 3)
    for i in range(5):
        local_hashes.sha256_of(settled_file(tmp_path / f"p{i}", bytes([i])))
    kept = json.loads(cache.read_text())
    assert len(kept) == 3 and all(str(tmp_path / f"p{i}") in " ".join(kept) for i in (2, 3, 4))
