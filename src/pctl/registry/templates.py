"""Templates by name: the library functions behind `pctl validate` and every command that takes -t.

Every template goes through :func:`pctl.registry.names.resolve` (file, library or registry name) and
`validate_file`, which merges `extends:` parents first (found by the same rules, :data:`FINDER`):
the fingerprint and everything downstream see the resolved template.
"""

from __future__ import annotations

from dataclasses import dataclass

from pctl.errors import PctlError
from pctl.registry.names import FINDER
from pctl.template.validate import ValidationResult, validate_file


@dataclass
class Outcome:
    ref: str
    display: str
    result: ValidationResult | None = None
    not_found: str | None = None
    hint: str | None = None

    def to_dict(self, *, resolved: bool = False) -> dict:
        if self.result is None:
            return {"source": self.ref, "valid": False, "errors": [{
                "severity": "error", "file": self.ref, "line": None, "column": None, "path": "",
                "code": "not-found", "message": self.not_found, "hint": self.hint}], "warnings": []}
        d = self.result.to_dict()
        d["source"] = self.display
        loaded = self.result.loaded
        if getattr(loaded, "chain", None):
            d["extends_chain"] = list(loaded.chain)
        if resolved:
            d["resolved"] = loaded.data if loaded is not None else None
        return d


def validate_refs(refs: list[str], *, catalog=None, use_catalog: bool = True) -> list[Outcome]:
    from pctl.errors import TemplateNotFound
    from pctl.registry.names import resolve

    out = []
    for ref in refs:
        try:
            tref = resolve(ref)
        except TemplateNotFound as exc:
            out.append(Outcome(ref, ref, not_found=exc.message, hint=exc.hint))
            continue
        result = validate_file(tref.path, tref.display, catalog=catalog, use_catalog=use_catalog, finder=FINDER)
        out.append(Outcome(ref, tref.display, result=result))
    return out


def load_valid(ref: str, *, catalog=None, use_catalog: bool = True, overrides: dict | None = None,
               purpose: str | None = None):
    """Resolve, load and validate one template; raise TemplateInvalid with every error when invalid.
    `overrides` (a partial template, e.g. from command-line flags) is merged in before validation; ``purpose``
    ('boot' or 'ami') judges the software install against that limit (see validate_loaded)."""
    from pctl.registry.names import resolve

    tref = resolve(ref)
    result = validate_file(tref.path, tref.display, catalog=catalog, use_catalog=use_catalog, finder=FINDER,
                           overrides=overrides, purpose=purpose)
    if not result.ok:
        lines = [d.format() for d in result.errors]
        raise TemplateInvalid(f"{tref.display} is not valid:\n" + "\n".join(lines), result=result)
    return tref, result


class TemplateInvalid(PctlError):
    def __init__(self, message: str, result: ValidationResult):
        super().__init__(message, hint="run pctl validate on it for every error and warning")
        self.result = result


def resolve_template(ref: str):
    """(TemplateRef, LoadedTemplate with extends merged). Raises TemplateNotFound, or PctlError with
    the load/extends error (file:line:col)."""
    from pctl.template.extends import ExtendsFailed, resolve_extends
    from pctl.template.load import LoadFailed, load_file
    from pctl.registry.names import resolve

    tref = resolve(ref)
    try:
        loaded = resolve_extends(load_file(tref.path, tref.display), finder=FINDER)
    except LoadFailed as exc:
        raise PctlError(exc.diagnostic.format()) from None
    except ExtendsFailed as exc:
        raise PctlError("\n".join(d.format() for d in exc.diagnostics)) from None
    return tref, loaded
