"""``[tool.squasher]`` in the project root's ``pyproject.toml``, read once per command.

Only ``<root>/pyproject.toml`` is read (``root`` is ``--root``, the language server's
workspace folder); no parent directory is searched. Every key is optional::

    [tool.squasher]
    settings = "mysite.settings"      # when neither --settings nor DJANGO_SETTINGS_MODULE is given
    ignore-apps = ["legacy"]          # check does not report these apps' problems
    disable = ["SQ004"]               # codes never reported
    keep-last = 2                     # default of suggest / compact --keep-last
    severity = { SQ007 = "error", SQ001 = "warning" }   # "error" | "warning" | "info"
    against = "origin/main"           # default of check --against; the editor's base branch

An unknown key or a bad value is a :class:`~squasher.errors.UsageError` (exit 2) naming the
file, the line when it can be found and the key. Static side only: no Django import.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from squasher.errors import UsageError
from squasher.records import CODES, Severity

FILENAME = "pyproject.toml"
SECTION = "[tool.squasher]"

#: Severities a code may be given (``hint`` is the language server's own level).
SEVERITIES = {s.value: s for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}

_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class SquasherConfig:
    """The ``[tool.squasher]`` table, validated; the defaults are "no configuration"."""

    #: the pyproject.toml read (``None``: there is none, or it has no ``[tool.squasher]``)
    path: Path | None = None
    #: Django settings module, used when neither ``--settings`` nor ``DJANGO_SETTINGS_MODULE``
    #: is given (before the one manage.py names)
    settings: str | None = None
    #: app labels whose problems ``check`` (and the language server) does not report
    ignore_apps: frozenset[str] = frozenset()
    #: codes never reported
    disable: frozenset[str] = frozenset()
    #: code -> the severity it is reported with (exit status follows it)
    severity: Mapping[str, Severity] = field(default_factory=lambda: MappingProxyType({}))
    #: default of ``suggest`` / ``compact`` ``--keep-last`` (``None``: not set)
    keep_last: int | None = None
    #: git revision ``check`` compares with (``--against``) and the language server
    #: predicts merge conflicts against (``None``: not set; the server then tries origin/HEAD)
    against: str | None = None


#: pyproject.toml path -> ((mtime_ns, size), config): a command (and the language server)
#: parses the file once however often it asks.
_cache: dict[Path, tuple[tuple[int, int], SquasherConfig]] = {}


def load_config(root: str | Path) -> SquasherConfig:
    """The validated ``[tool.squasher]`` table of ``root/pyproject.toml``.

    No file, or no ``[tool.squasher]`` table: the defaults. Raises :class:`UsageError`
    (``path`` = the pyproject.toml, with a hint) for a file that is not valid TOML, an
    unknown key or a bad value.
    """
    path = Path(root) / FILENAME
    try:
        stat = path.stat()
    except OSError:
        return SquasherConfig()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = _read(path)
    if len(_cache) > 64:
        _cache.clear()
    _cache[path] = (stamp, config)
    return config


def configured_settings_module(root: str | Path) -> str | None:
    """``settings`` of ``[tool.squasher]``, or ``None``; the one place settings lookups read it.

    Never raises: a bad configuration is reported where a command starts (``squasher.cli.main``)
    and by the language server, not in the middle of discovering a project.
    """
    try:
        return load_config(root).settings
    except UsageError:
        return None


def _read(path: Path) -> SquasherConfig:
    import tomllib

    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {FILENAME}: {error}", path=path,
                         hint=f"fix or remove {path}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        raise UsageError(f"{FILENAME} is not valid TOML: {message}", path=path,
                         line=int(match.group(1)) if match else None,
                         hint="fix the TOML syntax (https://toml.io)") from None
    tool = data.get("tool", {})
    table = tool.get("squasher") if isinstance(tool, dict) else None
    if table is None:
        return SquasherConfig()
    return _Validator(path, text).config(table)


class _Validator:
    """Turns the raw table into a :class:`SquasherConfig`; every error names the key."""

    KEYS = ("settings", "ignore-apps", "disable", "severity", "keep-last", "against")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, key: str | None, message: str, hint: str, sub: str | None = None) -> UsageError:
        name = f"{SECTION} {key}" if key else SECTION
        return UsageError(f"{name}: {message}", path=self.path, line=self.line_of(key, sub),
                          hint=hint)

    def line_of(self, key: str | None, sub: str | None = None) -> int | None:
        """Best effort: the line of ``key`` (or of ``sub`` in ``[tool.squasher.<key>]``)."""
        section = None
        for number, raw in enumerate(self.lines, 1):
            line = raw.strip()
            if line.startswith("["):
                section = line.strip("[] \t").replace(" ", "")
                if key is None and section == "tool.squasher":
                    return number
                continue
            name = re.match(r"""^["']?([\w.-]+)["']?\s*=""", line)
            if key is None or name is None:
                continue
            found = name.group(1)
            if section == "tool.squasher" and (found == key or found.startswith(f"{key}.")):
                return number
            if section == f"tool.squasher.{key}" and (sub is None or found == sub):
                return number
        return None

    def config(self, table: Any) -> SquasherConfig:
        if not isinstance(table, dict):
            raise self.fail(None, "must be a table", hint="write [tool.squasher] with key = value lines")
        for key in table:
            if key not in self.KEYS:
                close = difflib.get_close_matches(key.replace("_", "-"), self.KEYS, n=1, cutoff=0.6)
                raise self.fail(key, "unknown key",
                                hint=(f"did you mean {close[0]!r}? " if close else "")
                                + "known keys: " + ", ".join(self.KEYS))
        settings = table.get("settings")
        if settings is not None and not (isinstance(settings, str) and _MODULE_RE.match(settings)):
            raise self.fail("settings", f"{settings!r} is not a dotted module name",
                            hint='e.g. settings = "mysite.settings"')
        keep_last = table.get("keep-last")
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int)
                                      or keep_last < 0):
            raise self.fail("keep-last", f"{keep_last!r} is not a whole number >= 0",
                            hint="e.g. keep-last = 2")
        against = table.get("against")
        if against is not None and not (isinstance(against, str) and against.strip()
                                        and not against.startswith("-")):
            raise self.fail("against", f"{against!r} is not a git revision",
                            hint='e.g. against = "origin/main"')
        return SquasherConfig(
            path=self.path, settings=settings, against=against,
            ignore_apps=frozenset(self.strings("ignore-apps", table.get("ignore-apps", []),
                                               'e.g. ignore-apps = ["legacy"]')),
            disable=frozenset(self.codes("disable", table.get("disable", []))),
            severity=MappingProxyType(self.severities(table.get("severity", {}))),
            keep_last=keep_last,
        )

    def strings(self, key: str, value: Any, hint: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, f"{value!r} is not a list of strings", hint=hint)
        for item in value:
            if not isinstance(item, str) or not item:
                raise self.fail(key, f"{item!r} is not a non-empty string", hint=hint)
        return value

    def code(self, key: str, value: str, sub: str | None = None) -> str:
        code = value.strip().upper()
        if code not in CODES:
            raise self.fail(key, f"unknown code {value!r}", sub=sub,
                            hint="known codes: " + ", ".join(CODES))
        return code

    def codes(self, key: str, value: Any) -> list[str]:
        return [self.code(key, item) for item in self.strings(key, value, 'e.g. disable = ["SQ004"]')]

    def severities(self, value: Any) -> dict[str, Severity]:
        hint = 'e.g. severity = { SQ007 = "error", SQ004 = "info" } (error, warning or info)'
        if not isinstance(value, dict):
            raise self.fail("severity", f"{value!r} is not a table of code = severity", hint=hint)
        out: dict[str, Severity] = {}
        for code, level in value.items():
            normalized = self.code("severity", code, sub=code)
            if not isinstance(level, str) or level.lower() not in SEVERITIES:
                raise self.fail("severity", f"{code} = {level!r} is not error, warning or info",
                                sub=code, hint=hint)
            out[normalized] = SEVERITIES[level.lower()]
        return out


__all__ = ["SquasherConfig", "load_config", "configured_settings_module", "FILENAME", "SEVERITIES"]
