"""``initializationOptions`` (see docs/ARCHITECTURE.md), parsed with a typed converter.

The options decide whether the server imports project code (``djangoFeatures``), so
they are parsed strictly: a boolean option is on only for a JSON ``true`` (the string
``"false"``, ``1`` or ``"yes"`` are off), a string option only for a non-empty string;
anything else falls back to the default, and unknown keys are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, override


@dataclass(frozen=True)
class Options:
    """What the client sent, typed; the defaults are the safe choice (no Django import)."""

    django_features: bool = False
    settings_module: str | None = None
    interpreter: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Options:
        """``initializationOptions`` -> :class:`Options`; never raises."""
        if not isinstance(data, dict):
            return cls()
        try:
            return _converter.structure(data, cls)
        except Exception:  # noqa: BLE001 - malformed options: the safe defaults
            return cls()


def _strict_bool(value: Any, _: Any) -> bool:
    return value is True


def _optional_str(value: Any, _: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(str | None, _optional_str)
    converter.register_structure_hook(Options, make_dict_structure_fn(
        Options, converter,
        django_features=override(rename="djangoFeatures"),
        settings_module=override(rename="settingsModule"),
    ))
    return converter


_converter = _make_converter()
