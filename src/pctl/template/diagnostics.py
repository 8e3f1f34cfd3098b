"""Diagnostics: one error or warning about a template, with file:line:column and the field path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

Path = tuple  # tuple of str | int


def format_path(path: Iterable[Any]) -> str:
    """('compute', 'queues', 1, 'max_count') -> 'compute.queues[1].max_count'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    path: tuple = ()
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    code: str = ""
    hint: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def path_str(self) -> str:
        return format_path(self.path)

    def where(self) -> str:
        parts = [self.file or "<template>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def format(self) -> str:
        loc = f"{self.path_str}: " if self.path else ""
        text = f"{self.where()}: {self.severity}: {loc}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path_str,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def error(message: str, path: tuple = (), *, code: str = "", hint: str | None = None, **kw) -> Diagnostic:
    return Diagnostic("error", message, tuple(path), code=code, hint=hint, **kw)


def warning(message: str, path: tuple = (), *, code: str = "", hint: str | None = None, **kw) -> Diagnostic:
    return Diagnostic("warning", message, tuple(path), code=code, hint=hint, **kw)


def sort_key(d: Diagnostic):
    return (0 if d.is_error else 1, d.line if d.line is not None else 10**9, d.column or 0, d.path_str, d.message)
