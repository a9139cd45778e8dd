"""squasher.graph.check: every code, located at the right file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.trees import chain, make_tree

from squasher.errors import UnknownAppError
from squasher.graph.check import CHECKS, CODES, check_code, check_project, exit_code
from squasher.graph.project import Project
from squasher.records import Severity

SQ = ("a", "0001_squashed_0003")


def project(tmp_path: Path, spec, **kw) -> Project:
    root = make_tree(tmp_path / "p", spec, **kw)
    return Project.load(root, settings_module="settings", use_cache=False)


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_codes_documented() -> None:
    assert set(CODES) == {"SQ001", "SQ002", "SQ003", "SQ004", "SQ005", "SQ006", "SQ007", "SQ100",
                          *(f"SQ2{n:02d}" for n in range(1, 9))}


def test_every_static_code_has_one_check() -> None:
    """``check_project`` runs one registered function per SQ0nn code of ``CODES``; SQ1nn and
    SQ2nn come from ``suggest`` and ``check --against``."""
    assert sorted(CHECKS) == sorted(code for code in CODES if code.startswith("SQ0"))
    with pytest.raises(ValueError, match="not in CODES"):
        check_code("SQ999")
    with pytest.raises(ValueError, match="already has a check"):
        check_code("SQ001")(lambda context: [])


def test_clean_project(tmp_path: Path) -> None:
    p = project(tmp_path, {"a": chain("a", 3), "b": chain("b", 2, first_deps=[("a", "0002_m2"), ("auth", "__first__")])})
    assert check_project(p) == []
    assert exit_code([]) == 0


def test_conflicting_leaves_each_leaf_with_related(tmp_path: Path) -> None:
    spec = {"a": chain("a", 2) + [("0002_other", {"deps": [("a", "0001_m1")]})]}
    p = project(tmp_path, spec)
    problems = check_project(p)
    assert codes(problems) == ["SQ001", "SQ001"]
    first, second = problems
    assert first.path.name == "0002_m2.py" and second.path.name == "0002_other.py"
    assert first.span.line == line_of(first.path, "class Migration")
    assert [r[0].name for r in first.related] == ["0002_other.py"]
    assert [r[0].name for r in second.related] == ["0002_m2.py"]
    assert exit_code(problems) == 1


def test_dangling_dependency_points_at_the_tuple(tmp_path: Path) -> None:
    spec = {"a": chain("a", 2) + [("0003_x", {"deps": [("a", "0002_m2"), ("a", "0002_typo")]})],
            "b": [("0001_initial", {"deps": [("a", "0009_nope"), ("plain", "0001_initial")]})]}
    p = project(tmp_path, spec, unmigrated=("plain",))
    problems = [x for x in check_project(p) if x.code == "SQ002"]
    assert len(problems) == 3
    by_file = {(x.path.name, x.span.line): x for x in problems}
    a3 = tmp_path / "p" / "a" / "migrations" / "0003_x.py"
    assert ("0003_x.py", line_of(a3, "0002_typo")) in by_file
    assert "did you mean '0002_m2'" in by_file[("0003_x.py", line_of(a3, "0002_typo"))].hint
    b1 = tmp_path / "p" / "b" / "migrations" / "0001_initial.py"
    assert ("0001_initial.py", line_of(b1, "0009_nope")) in by_file
    assert "has no migrations" in by_file[("0001_initial.py", line_of(b1, "plain"))].message


def test_dangling_hint_never_suggests_the_migration_itself(tmp_path: Path) -> None:
    """0002_rename depending on a missing 0001_renamed: the closest name is 0002_rename
    itself, which is no fix; the hint names the app's other migration or says none matches."""
    spec = {"a": [("0001_initial", {}), ("0002_rename", {"deps": [("a", "0001_renamed")]})]}
    [problem] = [x for x in check_project(project(tmp_path, spec)) if x.code == "SQ002"]
    assert "0002_rename" not in (problem.hint or "")
    assert "did you mean '0001_initial'" in (problem.hint or "")


def test_cycle(tmp_path: Path) -> None:
    spec = {"a": [("0001_initial", {"deps": [("b", "0001_initial")]})],
            "b": [("0001_initial", {"deps": [("a", "0001_initial")]})]}
    problems = [x for x in check_project(project(tmp_path, spec)) if x.code == "SQ003"]
    assert len(problems) == 1
    assert "a.0001_initial -> b.0001_initial -> a.0001_initial" in problems[0].message
    assert problems[0].path.parent.parent.name == "a"
    assert problems[0].related[0][0].parent.parent.name == "b"


def squash_spec(delete=()):
    a = [m for m in chain("a", 4) if m[0] not in delete]
    a.append(("0001_squashed_0003", {"replaces": [("a", "0001_m1"), ("a", "0002_m2"), ("a", "0003_m3")]}))
    return {"a": a, "b": [("0001_initial", {"deps": [("a", "0002_m2")]})]}


def test_replaced_reference_info_while_file_exists(tmp_path: Path) -> None:
    problems = check_project(project(tmp_path, squash_spec()))
    sq004 = [x for x in problems if x.code == "SQ004"]
    # a.0004 -> a.0003 and b.0001 -> a.0002; references among the replaced files are fine
    assert sorted((x.key, x.severity) for x in sq004) == [
        (("a", "0004_m4"), Severity.INFO), (("b", "0001_initial"), Severity.INFO)]
    assert all("0001_squashed_0003" in x.hint for x in sq004)
    assert exit_code(problems) == 0


def test_replaced_reference_warning_and_half_finalized(tmp_path: Path) -> None:
    p = project(tmp_path, squash_spec(delete=("0002_m2",)))
    problems = check_project(p)
    sq004 = {x.key: x for x in problems if x.code == "SQ004"}
    assert sq004[("b", "0001_initial")].severity == Severity.WARNING
    assert "deleted" in sq004[("b", "0001_initial")].message
    (sq005,) = [x for x in problems if x.code == "SQ005"]
    assert sq005.severity == Severity.ERROR and "1 of 3" in sq005.message
    squash_file = tmp_path / "p" / "a" / "migrations" / "0001_squashed_0003.py"
    assert sq005.path == squash_file and sq005.span.line == line_of(squash_file, "'0002_m2'")
    assert "SQ002" not in codes(problems)  # Django remaps the deleted node; not dangling


def test_fully_finalized_files_is_info(tmp_path: Path) -> None:
    problems = check_project(project(tmp_path, squash_spec(delete=("0001_m1", "0002_m2", "0003_m3"))))
    (sq005,) = [x for x in problems if x.code == "SQ005"]
    assert sq005.severity == Severity.INFO


def test_unparsable_file(tmp_path: Path) -> None:
    spec = {"a": chain("a", 1) + [("0002_bad", {"raw": "from django.db import migrations\nclass Migration(:\n"})]}
    problems = check_project(project(tmp_path, spec))
    (sq006,) = [x for x in problems if x.code == "SQ006"]
    assert sq006.path.name == "0002_bad.py" and sq006.span.line == 2


def test_unknown_app_is_a_warning_unless_installed(tmp_path: Path) -> None:
    spec = {"a": [("0001_initial", {"deps": [("ghost", "0001_initial"), ("auth", "0001_initial")]})]}
    problems = check_project(project(tmp_path, spec))
    assert codes(problems) == ["SQ007"]
    assert problems[0].severity == Severity.WARNING and "'ghost'" in problems[0].message
    # an app listed in INSTALLED_APPS (a third-party package) is external, not unknown
    p2 = project(tmp_path / "two", spec, settings={"INSTALLED_APPS": ["ghost", "a"]})
    assert check_project(p2) == []


def test_apps_filter_and_unknown_app(tmp_path: Path) -> None:
    spec = {"a": chain("a", 2) + [("0002_other", {"deps": [("a", "0001_m1")]})], "b": chain("b", 1)}
    p = project(tmp_path, spec)
    assert check_project(p, ["b"]) == []
    assert codes(check_project(p, ["a"])) == ["SQ001", "SQ001"]
    with pytest.raises(UnknownAppError):
        check_project(p, ["nope"])
