"""Issue 10, parse cache: data only (a planted pickle runs nothing), only the user's own
unshared file is read, and an edit that keeps size and modification time is not served
from the cache."""

from __future__ import annotations

import marshal
import os
import pickle
import stat
from pathlib import Path

import pytest

from squasher.graph.project import Project, cache_file_for

pytestmark = pytest.mark.timeout(60)

MIGRATION = '''from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '{dep}'),
    ]

    operations = [
    ]
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SQUASHER_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    migrations = root / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_initial.py").write_text(MIGRATION.replace("('shop', '{dep}'),\n", ""))
    (migrations / "0002_a.py").write_text(MIGRATION.format(dep="0001_initial"))
    (migrations / "0002_b.py").write_text(MIGRATION.format(dep="0001_initial"))
    (migrations / "0003_c.py").write_text(MIGRATION.format(dep="0002_a"))
    return root


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a planted pickle does on load
        return (Path.write_text, (self.marker, "code ran"))


def test_a_planted_pickle_runs_no_code(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cache = cache_file_for(project)
    cache.parent.mkdir(parents=True, exist_ok=True)
    for target in {cache, cache.with_name("records.pickle")}:
        target.write_bytes(pickle.dumps({"fingerprint": "x", "entries": _Payload(marker)}))
        target.chmod(0o600)
    loaded = Project.load(project)
    assert not marker.exists()
    assert len(loaded.graph.records) == 4
    # The file written back is plain data.
    assert isinstance(marshal.loads(cache.read_bytes()), tuple)


def _tamper(cache: Path) -> None:
    """Rewrite every cached record's first dependency (plain data, a valid cache)."""
    fingerprint, entries = marshal.loads(cache.read_bytes())
    fresh = []
    for path, key, label, value in entries:
        value = list(value)
        value[4] = tuple((a, "9999_planted", s, w) for a, n, s, w in value[4])
        fresh.append((path, key, label, tuple(value)))
    mode = stat.S_IMODE(cache.stat().st_mode)
    cache.write_bytes(marshal.dumps((fingerprint, tuple(fresh))))
    cache.chmod(mode)


def _planted(project: Path) -> bool:
    graph = Project.load(project).graph
    return any(r.key == ("shop", "9999_planted") for rec in graph.records.values()
               for r in rec.dependencies)


def test_cache_of_own_unshared_file_is_used(project: Path) -> None:
    Project.load(project)
    cache = cache_file_for(project)
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0
    _tamper(cache)
    assert _planted(project)  # the (tampered) cache is what was read: the check below matters


@pytest.mark.parametrize("mode", [0o620, 0o602], ids=["group", "others"])
def test_cache_writable_by_others_is_ignored(project: Path, mode: int) -> None:
    Project.load(project)
    cache = cache_file_for(project)
    _tamper(cache)
    cache.chmod(mode)
    assert not _planted(project)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_cache_owned_by_someone_else_is_ignored(project: Path) -> None:
    Project.load(project)
    cache = cache_file_for(project)
    _tamper(cache)
    os.chown(cache, 12345, -1)
    assert not _planted(project)


@pytest.mark.parametrize("how", ["same_inode", "copied"])
def test_same_size_edit_with_mtime_put_back_is_reparsed(project: Path, tmp_path: Path,
                                                        how: str) -> None:
    path = project / "shop" / "migrations" / "0003_c.py"
    assert Project.load(project).graph.parents(("shop", "0003_c")) == [("shop", "0002_a")]
    before = path.stat()
    new_text = path.read_text().replace("0002_a", "0002_b")
    assert len(new_text) == len(path.read_text())
    if how == "same_inode":  # edit in place, then `touch -r` the old time back
        path.write_text(new_text)
    else:  # `cp -p` of a same-size file over it
        other = tmp_path / "other.py"
        other.write_text(new_text)
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert Project.load(project).graph.parents(("shop", "0003_c")) == [("shop", "0002_b")]
