"""Issue 10: ``initializationOptions`` are parsed strictly (lsp_server/options.py): only a
JSON ``true`` switches Django features (which import project code) on."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from support.lsp import client_fixture, mini_project

from lsp_server.options import Options

pytestmark = pytest.mark.timeout(90)

client = client_fixture(["visual-studio-code"])


@pytest.mark.parametrize("value", ["false", "true", 1, "yes", None, [], {"on": True}])
def test_anything_but_true_is_off(value: object) -> None:
    assert Options.from_json({"djangoFeatures": value}).django_features is False


def test_typed_options() -> None:
    assert Options.from_json({"djangoFeatures": True, "settingsModule": "proj.settings",
                              "interpreter": "/usr/bin/python3", "other": 1}) == Options(
        django_features=True, settings_module="proj.settings", interpreter="/usr/bin/python3")
    assert Options.from_json({"settingsModule": 3, "interpreter": ""}) == Options()
    assert Options.from_json(None) == Options() == Options.from_json(["djangoFeatures"])


@pytest.fixture
def init_options() -> dict:
    return {"djangoFeatures": "false", "settingsModule": "settings", "interpreter": sys.executable}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = mini_project(tmp_path / "mini")
    settings = root / "settings.py"
    settings.write_text(settings.read_text() + "import pathlib\n"
                        "pathlib.Path(__file__).with_name('IMPORTED').write_text('x')\n")
    return root


async def test_string_false_does_not_import_project_code(client: LanguageClient, workspace: Path):
    result = await asyncio.wait_for(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="squasher.squash",
                                   arguments=[{"app": "shop", "start": "0001", "end": "0003"}])), 60)
    assert result == {"applied": False}
    assert not (workspace / "IMPORTED").exists()
    assert any("needs Django features" in m.message for m in client.log_messages)
