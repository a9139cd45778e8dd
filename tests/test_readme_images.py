"""The README images: each one the READMEs show is a real PNG of a sensible size, and
``vscode-extension/e2e/readme-shots.sh`` (documented in the extension's README) retakes it.

Cheap: reads the files, no browser. The images themselves are taken by readme-shots.sh
(run.sh in README mode for the editor, headless Chromium for the graph page).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXT = REPO_ROOT / "vscode-extension"
if not (EXT / "README.md").is_file():  # the sdist carries no extension (see MANIFEST.in)
    pytest.skip("no vscode-extension/ in this tree", allow_module_level=True)
SCRIPT = EXT / "e2e" / "readme-shots.sh"
#: README → the variable readme-shots.sh names its folder by
READMES = {REPO_ROOT / "README.md": "$REPO", EXT / "README.md": "$EXT_DIR"}
#: what the READMEs show today (a README losing one of them should be a decision, not a slip)
EXPECTED = {
    REPO_ROOT / "README.md": {"docs/images/graph-html.png"},
    EXT / "README.md": {"images/screenshot.png", "images/graph.png"},
}
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


def _local_images(readme: Path) -> set[str]:
    refs = set(IMAGE.findall(readme.read_text(encoding="utf-8")))
    return {r for r in refs if not re.match(r"^[a-z]+:", r)}


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG (a Git LFS pointer or another format?)"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, "no IHDR chunk first"
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(PNG_END), "truncated: no IEND chunk at the end"
    return width, height


ALL = sorted(
    (readme, ref) for readme in READMES for ref in _local_images(readme) | EXPECTED[readme]
)


@pytest.mark.parametrize("readme", sorted(READMES), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_readme_shows_the_expected_images(readme: Path) -> None:
    assert EXPECTED[readme] <= _local_images(readme), (
        f"{readme.name} no longer shows {EXPECTED[readme]}"
    )


@pytest.mark.parametrize(
    ("readme", "ref"), ALL, ids=[f"{r.relative_to(REPO_ROOT)}:{i}" for r, i in ALL]
)
def test_readme_image_is_a_png_of_sensible_size(readme: Path, ref: str) -> None:
    path = (readme.parent / ref).resolve()
    assert path.is_relative_to(REPO_ROOT) and path.is_file(), (
        f"{readme.name} shows {ref}, which does not exist"
    )
    data = path.read_bytes()
    assert 10_000 <= len(data) <= 400_000, f"{ref}: {len(data)} bytes (keep it under 400 KB)"
    width, height = _png_size(data)
    assert 1000 <= width <= 2000 and 600 <= height <= 1200, f"{ref}: {width}x{height}"


@pytest.mark.parametrize(
    ("readme", "ref"), ALL, ids=[f"{r.relative_to(REPO_ROOT)}:{i}" for r, i in ALL]
)
def test_readme_image_is_retaken_by_the_script(readme: Path, ref: str) -> None:
    """readme-shots.sh puts the image in place (an image added to a README by hand, with no
    way to retake it, fails here)."""
    target = f'"{READMES[readme]}/{Path(ref).as_posix()}"'
    assert re.search(rf"^\s*install_png .* {re.escape(target)}$", SCRIPT.read_text(), re.M), (
        f"{SCRIPT.name} does not install {ref} (expected an `install_png ... {target}` line)"
    )


def test_the_script_is_documented_and_wired_to_the_editor_run() -> None:
    assert os.access(SCRIPT, os.X_OK), f"{SCRIPT} is not executable"
    assert "e2e/readme-shots.sh" in (EXT / "README.md").read_text(), (
        "the extension README does not say how to retake"
    )
    script = SCRIPT.read_text()
    assert 'SQUASHER_E2E_README_SHOTS="$STAGE/ext"' in script and '"$HERE/run.sh"' in script
    assert "SQUASHER_E2E_README_SHOTS" in (EXT / "e2e" / "run.sh").read_text()
    ui = (EXT / "e2e" / "e2e.mjs").read_text()
    for ref in EXPECTED[EXT / "README.md"]:
        assert f'file("{Path(ref).name}")' in ui, f"e2e.mjs never writes {ref} in README mode"
