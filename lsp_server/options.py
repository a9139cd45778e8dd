"""``initializationOptions`` (see docs/ARCHITECTURE.md), parsed with a typed converter.

The options decide whether the server imports project code (``djangoFeatures``), so
they are parsed strictly: a boolean option is on only for a JSON ``true`` (the string
``"false"``, ``1`` or ``"yes"`` are off), a string option only for a non-empty string;
anything else falls back to the default, and unknown keys are ignored.

``severity`` maps a check code to ``"off"``, ``"hint"``, ``"information"``, ``"warning"`` or
``"error"`` (e.g. ``{"SQ100": "off"}`` hides the squash suggestions); unknown levels and
non-string codes are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, override
from lsprotocol import types

#: ``severity`` override levels; ``None`` drops the diagnostic.
LEVELS: dict[str, types.DiagnosticSeverity | None] = {
    "off": None,
    "hint": types.DiagnosticSeverity.Hint,
    "information": types.DiagnosticSeverity.Information,
    "info": types.DiagnosticSeverity.Information,
    "warning": types.DiagnosticSeverity.Warning,
    "error": types.DiagnosticSeverity.Error,
}


@dataclass(frozen=True)
class Options:
    """What the client sent, typed; the defaults are the safe choice (no Django import)."""

    django_features: bool = False
    settings_module: str | None = None
    interpreter: str | None = None
    #: check code -> level (a key of :data:`LEVELS`, lower case)
    severity: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> Options:
        """``initializationOptions`` -> :class:`Options`; never raises."""
        if not isinstance(data, dict):
            return cls()
        try:
            return _converter.structure(data, cls)
        except Exception:  # noqa: BLE001 - malformed options: the safe defaults
            return cls()

    def adjust_severity(self, diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
        """``diagnostics`` with the ``severity`` overrides applied ("off" ones dropped)."""
        if not self.severity:
            return diagnostics
        out = []
        for diagnostic in diagnostics:
            level = self.severity.get(str(diagnostic.code))
            if level is None:
                out.append(diagnostic)
            elif LEVELS[level] is not None:
                diagnostic.severity = LEVELS[level]
                out.append(diagnostic)
        return out


def _severity_map(value: Any, _: Any) -> Mapping[str, str]:
    if not isinstance(value, dict):
        return {}
    return {code.strip(): level.strip().lower() for code, level in value.items()
            if isinstance(code, str) and code.strip() and isinstance(level, str)
            and level.strip().lower() in LEVELS}


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
        severity=override(struct_hook=_severity_map),
    ))
    return converter


_converter = _make_converter()
