"""The editor settings the server applies: ``severity`` overrides per check code (sent as the
``severity`` initialization option; VS Code's ``squasher.severity``), and code lenses that
carry a command to run (the squash-suggestion lens runs ``squasher.squash`` when Django
features are on; informational lenses have an empty command, which VS Code hides)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.lsp import client_fixture, uri, wait_until

from lsp_server.options import Options

pytestmark = pytest.mark.timeout(120)

client = client_fixture(["visual-studio-code"])


def _range() -> types.Range:
    return types.Range(types.Position(0, 0), types.Position(0, 1))


@pytest.mark.parametrize(("value", "expected"), [
    ({"SQ100": "off", "SQ001": "Hint", "SQ007": " error "}, {"SQ100": "off", "SQ001": "hint", "SQ007": "error"}),
    ({"SQ002": "info"}, {"SQ002": "info"}),
    ({"SQ001": "loud", "": "off", "SQ003": 3}, {}),
    ("SQ100=off", {}),
    (None, {}),
])
def test_severity_option_is_parsed_strictly(value: object, expected: dict) -> None:
    assert dict(Options.from_json({"severity": value}).severity) == expected


def test_severity_overrides_change_or_drop_diagnostics() -> None:
    options = Options.from_json({"severity": {"SQ100": "off", "SQ001": "hint", "SQ007": "error"}})
    diagnostics = [
        types.Diagnostic(range=_range(), message="suggestion", code="SQ100",
                         severity=types.DiagnosticSeverity.Information),
        types.Diagnostic(range=_range(), message="conflict", code="SQ001",
                         severity=types.DiagnosticSeverity.Error),
        types.Diagnostic(range=_range(), message="unknown app", code="SQ007",
                         severity=types.DiagnosticSeverity.Warning),
        types.Diagnostic(range=_range(), message="dangling", code="SQ002",
                         severity=types.DiagnosticSeverity.Error),
    ]
    out = options.adjust_severity(diagnostics)
    assert [(d.code, d.severity) for d in out] == [
        ("SQ001", types.DiagnosticSeverity.Hint),
        ("SQ007", types.DiagnosticSeverity.Error),
        ("SQ002", types.DiagnosticSeverity.Error),
    ]
    assert Options().adjust_severity(diagnostics) is diagnostics  # no overrides: untouched


@pytest.fixture
def workspace(sample_project: Path) -> Path:
    return sample_project


@pytest.fixture
def init_options() -> dict:
    return {"djangoFeatures": True, "settingsModule": "settings", "interpreter": sys.executable,
            "severity": {"SQ100": "off", "SQ001": "hint"}}


def mig(root: Path, app: str, name: str) -> Path:
    return root / app / "migrations" / f"{name}.py"


async def test_severity_overrides_and_runnable_lenses(client: LanguageClient, workspace: Path):
    leaf = mig(workspace, "blog", "0005_post_reading_time")
    conflict = await wait_until(
        lambda: [d for d in client.diagnostics.get(uri(leaf), []) if d.code == "SQ001"],
        what="SQ001 on the blog leaf")
    assert conflict[0].severity == types.DiagnosticSeverity.Hint

    # the suggestion exists (its lens is there) but its SQ100 diagnostic is hidden
    target = mig(workspace, "billing", "0006_seed_tax_rates")

    async def lenses() -> list[types.CodeLens]:
        return await client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=uri(target)))) or []

    found: list[types.CodeLens] = []
    for _ in range(300):
        found = await lenses()
        if any(lens.command.title.startswith("squashable with ") for lens in found):
            break
        await asyncio.sleep(0.1)
    squash = [lens for lens in found if lens.command.title.startswith("squashable with ")]
    assert squash, [lens.command.title for lens in found]
    assert squash[0].command.command == "squasher.squash"
    argument = squash[0].command.arguments[0]
    assert argument["app"] == "billing" and argument["start"].startswith("0005") and argument["end"]
    # the dependents lens is informational: no command (VS Code does not show it)
    assert [lens.command.command for lens in found if "dependent" in lens.command.title] == [""]
    await asyncio.sleep(0.5)
    all_codes = {str(d.code) for ds in client.diagnostics.values() for d in ds}
    assert "SQ100" not in all_codes and "SQ001" in all_codes
