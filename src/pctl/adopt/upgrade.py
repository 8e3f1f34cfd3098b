"""An older template -> the current format and Spack catalog (`pctl template upgrade`).

What the rules do on their own (each change is reported):

* earlier-format fields: ``capacity_type: SPOT`` -> ``capacity: spot``; ``allocation_strategy`` values
  normalised (the field exists in the current model);
* Spack packages that were renamed: the reviewed table in :mod:`pctl.adopt.renames`, the catalog's own
  alias table when it names exactly one package, or the ``py-`` prefix when exactly that package exists;
* versions the catalog no longer declares: the nearest declared version of the same release series
  (major.minor for x.y.z versions, major for x.y), else the newest declared release (a "note": the series
  is gone, read it);
* variants the package no longer has: renamed when the catalog has the new name (``python3`` -> ``python``),
  else dropped with a note.

What needs a person (reported as "review", and the exit code says so): a package Spack does not have
(the spec is left out and named in the file's header), keys the current format does not know (the earlier
tool ignored them; removed and named), a head node too small for the queues (raised to the smallest size
of its family that is large enough: it costs more), YAML that does not parse, and anything that still
does not validate.

The file is edited with ruamel's round-trip loader, so comments and layout are kept.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pctl.adopt.findings import CHANGED, NOTE, REVIEW, Finding
from pctl.adopt.renames import PACKAGE_RENAMES, VARIANT_RENAMES
from pctl.template import rules


@dataclass
class UpgradeResult:
    source: str
    text: str | None  # the upgraded template (None when the file could not be read as YAML)
    original: str
    findings: list[Finding] = field(default_factory=list)
    valid: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text is not None and self.text != self.original

    @property
    def needs_person(self) -> bool:
        return not self.valid or any(f.status == REVIEW for f in self.findings)

    def to_dict(self) -> dict:
        return {"source": self.source, "changed": self.changed, "valid": self.valid,
                "needs_person": self.needs_person, "errors": self.errors,
                "findings": [f.to_dict() for f in self.findings]}


# ============================================================================================ versions

def _nums(version: str) -> list[int]:
    from pctl.spack.version import Version, VersionError

    try:
        release = Version(version).key[0]
    except VersionError:
        return []
    out = []
    for kind, value in release:
        if kind != 1:  # _NUM
            break
        out.append(value)
    return out


def series_of(version: str) -> list[int] | None:
    """The release series a version belongs to: major.minor for x.y.z[...], major for x.y, none for a
    single number (calendar versions such as 20230422)."""
    nums = _nums(version)
    if len(nums) >= 3:
        return nums[:2]
    if len(nums) == 2:
        return nums[:1]
    return None


def nearest_version(requested: str, declared: list[str]) -> tuple[str | None, str]:
    """(version, how): how is 'series' (the nearest declared version of the same release series),
    'major' (that series is gone: the nearest of the same major version, for x.y.z versions) or 'newest'
    (the newest declared release)."""
    from pctl.spack.version import Version, VersionError, sort_versions

    releases = [v for v in sort_versions(declared, newest_first=True) if not Version(v).is_develop]
    if not releases:
        return None, "none"
    series = series_of(requested)
    levels = [(series, "series")] if series else []
    if series and len(series) == 2:
        levels.append((series[:1], "major"))
    for prefix, how in levels:
        same = [v for v in releases if _nums(v)[: len(prefix)] == prefix]
        if same:
            try:
                want = Version(requested)
            except VersionError:
                return same[0], how
            above = [v for v in same if Version(v) >= want]
            return (min(above, key=Version) if above else max(same, key=Version)), how
    return releases[0], "newest"


# ============================================================================================ specs

_HEAD_RE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_+-]*)(?:@(?P<eq>=?)(?P<ver>[^\s+~%^]+))?")


def _root_part(text: str) -> tuple[str, str]:
    cut = len(text)
    for sigil in ("%", "^"):
        i = text.find(sigil)
        if i != -1:
            cut = min(cut, i)
    return text[:cut], text[cut:]


def _drop_variant(text: str, name: str) -> str:
    root, rest = _root_part(text)
    n = re.escape(name)
    root = re.sub(rf"\s*(?:\+\+|\+|~~|~)\s*{n}(?=$|[\s+~])", "", root)
    root = re.sub(rf"\s+(?:--|-){n}(?=$|[\s+~])", "", root)
    root = re.sub(rf"\s+{n}(?:==|=|:=)\S+", "", root)
    return (root.rstrip() + (" " + rest.lstrip() if rest else "")).strip()


def _rename_variant(text: str, old: str, new: str) -> str:
    root, rest = _root_part(text)
    o = re.escape(old)
    root = re.sub(rf"(\+\+|\+|~~|~)\s*{o}(?=$|[\s+~])", rf"\g<1>{new}", root)
    root = re.sub(rf"(\s)(--|-){o}(?=$|[\s+~])", rf"\g<1>\g<2>{new}", root)
    root = re.sub(rf"(\s){o}(==|=|:=)", rf"\g<1>{new}\g<2>", root)
    return root + rest


class _SpecUpgrader:
    def __init__(self, catalog, findings: list[Finding]):
        self.catalog = catalog
        self.findings = findings

    def _resolve_name(self, name: str) -> tuple[str | None, str | None, str]:
        """(new name or None, variant to add, why) for a package the catalog does not have."""
        from pctl.spack.catalog import ALIASES

        cat = self.catalog
        if name in PACKAGE_RENAMES:
            new, variant, why = PACKAGE_RENAMES[name]
            if cat.has(new):
                return new, variant, why
        targets = [t for t in ALIASES.get(name, ()) if cat.has(t)]
        if len(targets) == 1:
            return targets[0], None, f"Spack's name for {name}"
        prefixed = [p + name for p in ("py-", "r-", "perl-") if cat.has(p + name)]
        if len(prefixed) == 1:
            return prefixed[0], None, f"{name} is packaged as {prefixed[0]}"
        return None, None, ""

    def upgrade(self, text: str, where: str) -> str | None:
        """The upgraded spec text, or None when the package must be left out (a person decides)."""
        from pctl.spack.spec import SpecSyntaxError, parse_spec

        original = text
        m = _HEAD_RE.match(text.strip())
        text = text.strip()
        if m and m.group("name") in PACKAGE_RENAMES and "+" in m.group("name"):
            # a name the spec grammar cannot read (bonnie++): rename before parsing
            new, variant, why = PACKAGE_RENAMES[m.group("name")]
            text = new + text[len(m.group("name")):]
            self.findings.append(Finding(CHANGED, where, f"renamed: {why}", m.group("name"), new))
        try:
            spec = parse_spec(text)
        except SpecSyntaxError as exc:
            from pctl.template.model import spec_error_text

            self.findings.append(Finding(REVIEW, where, f"left out: {spec_error_text(text, exc)}", original))
            return None
        name = spec.name or ""
        if not self.catalog.has(name):
            from pctl.spack.catalog import KNOWN_VIRTUALS

            if name in KNOWN_VIRTUALS:
                return text
            new, variant, why = self._resolve_name(name)
            if new is None:
                close = self.catalog.closest_names(name, 3)
                self.findings.append(Finding(
                    REVIEW, where, f"left out: Spack {self._release()} has no package {name!r}"
                    + (f" (closest names: {', '.join(close)})" if close else "")
                    + "; add the right spec by hand, or install it another way (conda, a container)", original))
                return None
            text = new + text[len(name):]
            if variant and not re.search(rf"[+~]\s*{re.escape(variant)}\b", _root_part(text)[0]):
                root, rest = _root_part(text)
                text = f"{root.rstrip()} +{variant}" + (f" {rest.lstrip()}" if rest else "")
            self.findings.append(Finding(CHANGED, where, f"renamed: {why}", name, new + (f" +{variant}" if variant else "")))
            name = new
            spec = parse_spec(text)
        pkg = self.catalog.package(name)
        # version
        if spec.version is not None and pkg.versions and "versions" not in pkg.incomplete:
            from pctl.spack.version import VersionError, parse_constraint, satisfiable

            try:
                constraint = parse_constraint(spec.version)
            except VersionError:
                constraint = None
            if constraint is not None and not constraint.is_git and not satisfiable(spec.version, pkg.versions):
                bound = constraint.lower_bound()
                requested = str(bound) if bound is not None else spec.version
                new, how = nearest_version(requested, list(pkg.versions))
                if new is not None:
                    hm = _HEAD_RE.match(text)
                    text = text[: hm.start("ver")] + new + text[hm.end("ver"):] if hm and hm.group("ver") else text
                    if how == "series":
                        series = ".".join(map(str, series_of(requested) or []))
                        self.findings.append(Finding(CHANGED, where, f"{name}: nearest declared version of the "
                                                     f"{series} series", f"@{spec.version}", f"@{new}"))
                    elif how == "major":
                        series = series_of(requested) or []
                        self.findings.append(Finding(NOTE, where, f"{name}: the {'.'.join(map(str, series))} series "
                                                     f"is gone from Spack {self._release()}; the nearest declared "
                                                     f"version of {series[0]}.x", f"@{spec.version}", f"@{new}"))
                    else:
                        series = series_of(requested)
                        gone = (f"the {'.'.join(map(str, series))} series is gone from Spack {self._release()}"
                                if series else "a single-number version has no release series to stay in")
                        self.findings.append(Finding(NOTE, where, f"{name}: {gone}; the newest declared release",
                                                     f"@{spec.version}", f"@{new}"))
        # variants
        if "variants" not in pkg.incomplete:
            from pctl.spack.catalog import NON_VARIANT_KEYS

            known = set(pkg.variants)
            for v in list(spec.variants):
                if v in NON_VARIANT_KEYS or v in known:
                    continue
                target = VARIANT_RENAMES.get(v)
                if target and target in known:
                    text = _rename_variant(text, v, target)
                    self.findings.append(Finding(CHANGED, where, f"{name}: variant renamed", v, target))
                else:
                    text = _drop_variant(text, v)
                    self.findings.append(Finding(NOTE, where, f"{name} has no variant {v!r} any more: dropped "
                                                 "(the package's default applies)", v))
        # dependencies and compilers: checked, and named when they need a person
        try:
            final = parse_spec(text)
        except SpecSyntaxError as exc:
            from pctl.template.model import spec_error_text

            self.findings.append(Finding(REVIEW, where, f"left out: {spec_error_text(text, exc)}", original))
            return None
        from pctl.spack.catalog import check_spec

        for problem in check_spec(self.catalog, final):
            if problem.node != "root":
                self.findings.append(Finding(REVIEW, where, f"{problem.message} (fix the {problem.node} by hand)",
                                             text))
        return text

    def _release(self) -> str:
        return getattr(self.catalog, "release", "catalog")


# ============================================================================================ the document

def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 120  # long flow lists wrap as people write them
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _detect_indent(text: str):
    """Keep the file's own list style: '- item' flush with the key (offset 0) or indented (offset 2)."""
    for line_no, line in enumerate(text.splitlines()):
        m = re.match(r"^(\s*)([A-Za-z_][\w-]*):\s*$", line)
        if not m:
            continue
        nxt = text.splitlines()[line_no + 1:line_no + 2]
        if nxt:
            m2 = re.match(r"^(\s*)- ", nxt[0])
            if m2:
                return len(m2.group(1)) - len(m.group(1))
    return 2


def _rename_key(mapping, old: str, new: str, value) -> None:
    keys = list(mapping.keys())
    pos = keys.index(old)
    comment = mapping.ca.items.pop(old, None) if hasattr(mapping, "ca") else None
    del mapping[old]
    mapping.insert(pos, new, value)
    if comment is not None:
        mapping.ca.items[new] = comment


def _capacity(value: Any) -> str | None:
    v = str(value).strip().lower().replace("-", "").replace("_", "")
    return {"spot": "spot", "ondemand": "ondemand"}.get(v)


class _Upgrader:
    def __init__(self, text: str, source: str, path: Path | None, catalog):
        self.text = text
        self.source = source
        self.path = path
        self.catalog = catalog
        self.findings: list[Finding] = []
        self.removed: list[str] = []  # header lines: what was taken out of the file

    def run(self) -> UpgradeResult:
        from ruamel.yaml.error import YAMLError

        result = UpgradeResult(source=self.source, text=None, original=self.text)
        yaml = _yaml()
        try:
            doc = yaml.load(self.text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.findings.append(Finding(REVIEW, where, f"not valid YAML ({problem}): fix the file by hand "
                                         "(an indentation slip?), then run the upgrade again"))
            result.findings = self.findings
            result.errors = [f"{self.source}: {where}: invalid YAML: {problem}"]
            return result
        from pctl.adopt.detect import looks_like_parallelcluster

        if looks_like_parallelcluster(doc):
            self.findings.append(Finding(REVIEW, "", "a ParallelCluster configuration, not a template: use "
                                         f"pctl template import {self.source} -o template.yaml"))
            result.findings = self.findings
            result.errors = ["a ParallelCluster configuration"]
            return result
        if not isinstance(doc, dict):
            self.findings.append(Finding(REVIEW, "", "not a template (a template is a mapping of sections)"))
            result.findings = self.findings
            result.errors = ["not a template"]
            return result
        self._queues(doc)
        self._specs(doc)
        # a file the rules leave alone is kept byte for byte (no re-wrapping of its lists)
        text = self._dump(doc) if self.findings or self.removed else self.text
        text = self._fix_from_validation(doc, text)
        res = self._validate(text)
        result.text = self._with_header(text)
        result.valid = res.ok
        result.errors = [d.format() for d in res.errors]
        for d in res.errors:
            self.findings.append(Finding(REVIEW, d.path_str, f"still invalid: {d.message}"))
        result.findings = self.findings
        return result

    # -- queues ------------------------------------------------------------------------------------
    def _queues(self, doc) -> None:
        queues = (doc.get("compute") or {}).get("queues") if isinstance(doc.get("compute"), dict) else None
        for i, q in enumerate(queues if isinstance(queues, list) else []):
            if not isinstance(q, dict):
                continue
            where = f"compute.queues[{i}]"
            if "capacity_type" in q:
                value = q["capacity_type"]
                cap = _capacity(value)
                if cap is None:
                    self.findings.append(Finding(REVIEW, f"{where}.capacity_type", "not a capacity pctl knows "
                                                 "(spot or ondemand): removed", value))
                    self.removed.append(f"{where}.capacity_type: {value}")
                    del q["capacity_type"]
                elif "capacity" in q and _capacity(q["capacity"]) not in (None, cap):
                    self.findings.append(Finding(REVIEW, f"{where}.capacity_type", f"contradicts capacity: "
                                                 f"{q['capacity']}; capacity kept", value))
                    self.removed.append(f"{where}.capacity_type: {value}")
                    del q["capacity_type"]
                elif "capacity" in q:
                    del q["capacity_type"]
                    self.findings.append(Finding(CHANGED, f"{where}.capacity_type", "same as capacity: removed", value))
                else:
                    _rename_key(q, "capacity_type", "capacity", cap)
                    self.findings.append(Finding(CHANGED, f"{where}.capacity_type", "the earlier format's "
                                                 "capacity_type is capacity now", f"capacity_type: {value}",
                                                 f"capacity: {cap}"))
            if "allocation_strategy" in q:
                value = q["allocation_strategy"]
                norm = str(value).strip().lower().replace("_", "-")
                known = ("lowest-price", "capacity-optimized", "price-capacity-optimized", "prioritized",
                         "capacity-optimized-prioritized")
                if norm in known and norm != value:
                    q["allocation_strategy"] = norm
                    self.findings.append(Finding(CHANGED, f"{where}.allocation_strategy", "spelled as the "
                                                 "current format does", value, norm))
                elif norm not in known:
                    guess = rules.did_you_mean(norm, known)
                    self.findings.append(Finding(REVIEW, f"{where}.allocation_strategy", "not an allocation "
                                                 "strategy: removed" + (f" (did you mean {guess}?)" if guess else ""),
                                                 value))
                    self.removed.append(f"{where}.allocation_strategy: {value}")
                    del q["allocation_strategy"]

    # -- software ----------------------------------------------------------------------------------
    def _specs(self, doc) -> None:
        sw = doc.get("software") if isinstance(doc.get("software"), dict) else None
        specs = sw.get("spack_packages") if sw else None
        if not isinstance(specs, list) or not specs:
            return
        if self.catalog is None:
            self.findings.append(Finding(REVIEW, "software.spack_packages", "no Spack catalog: versions and package "
                                         "names were not checked (set PCTL_SPACK_INDEX or pass --catalog)"))
            return
        up = _SpecUpgrader(self.catalog, self.findings)
        i = 0
        index = 0  # position in the original list, for the report
        while i < len(specs):
            value = specs[i]
            where = f"software.spack_packages[{index}]"
            index += 1
            if not isinstance(value, str):
                i += 1
                continue
            new = up.upgrade(value, where)
            if new is None:
                self.removed.append(f"{where}: {value}")
                del specs[i]
                continue
            if new != value:
                specs[i] = type(value)(new) if type(value) is not str else new
            i += 1

    # -- what validation still finds ---------------------------------------------------------------
    def _validate(self, text: str):
        from pctl.template.load import LoadFailed, load_text
        from pctl.template.validate import ValidationResult, validate_loaded

        try:
            loaded = load_text(text, self.source, self.path)
        except LoadFailed as exc:
            return ValidationResult(source=self.source, diagnostics=[exc.diagnostic])
        return validate_loaded(loaded, catalog=self.catalog, use_catalog=self.catalog is not None)

    def _fix_from_validation(self, doc, text: str) -> str:
        res = self._validate(text)
        touched = False
        for d in res.errors:
            if d.code == "unknown-key" and d.path:
                parent = doc
                try:
                    for p in d.path[:-1]:
                        parent = parent[p]
                except (KeyError, IndexError, TypeError):
                    continue
                key = d.path[-1]
                if isinstance(parent, dict) and key in parent:
                    value = parent[key]
                    del parent[key]
                    shown = value if not isinstance(value, (dict, list)) else "..."
                    self.removed.append(f"{d.path_str}: {shown}")
                    self.findings.append(Finding(REVIEW, d.path_str, "not a field of the current format (the "
                                                 "earlier pctl ignored unknown keys): removed; "
                                                 + d.message.split(";", 1)[-1].strip()
                                                 if ";" in d.message else "not a field of the current format (the "
                                                 "earlier pctl ignored unknown keys): removed", shown))
                    touched = True
            elif d.code == "install-time" and isinstance(doc.get("software"), dict):
                sw = doc["software"]
                keys = list(sw.keys())
                pos = keys.index("spack_packages") + 1 if "spack_packages" in keys else len(keys)
                sw.insert(pos, "install", "ami")
                self.findings.append(Finding(NOTE, "software.install", "the install cannot finish at boot "
                                             f"({d.message.split(';')[0].removeprefix('the software install is ')}); "
                                             "the template now installs from an AMI: run pctl ami build -t FILE "
                                             "before pctl create", None, "ami"))
                touched = True
            elif d.code == "head-node-memory":
                compute = doc.get("compute")
                head = compute.get("head_node") if isinstance(compute, dict) else None
                from pctl.template.validate import max_compute_nodes

                total = max_compute_nodes(compute.get("queues") or [])
                bigger = larger_head_node(str(head), rules.head_node_memory_needed(total))
                if bigger:
                    compute["head_node"] = bigger
                    self.findings.append(Finding(REVIEW, "compute.head_node", f"ParallelCluster needs a head node "
                                                 f"with {rules.head_node_memory_needed(total):.1f} GiB for {total} "
                                                 "compute nodes: the smallest size of its family that has it (it "
                                                 "costs more; or lower the queues' max_count)", head, bigger))
                    touched = True
        return self._dump(doc) if touched else text

    # -- output ------------------------------------------------------------------------------------
    def _dump(self, doc) -> str:
        yaml = _yaml()
        off = _detect_indent(self.text)
        yaml.indent(mapping=2, sequence=off + 2, offset=off)
        # wide enough that lines the upgrade did not touch keep their shape
        yaml.width = max(100, max((len(ln) for ln in self.text.splitlines()), default=0) + 20)
        buf = io.StringIO()
        yaml.dump(doc, buf)
        # ruamel leaves a space at the end of a wrapped flow line
        return "\n".join(ln.rstrip() if ln.endswith((", ", ": ")) else ln for ln in buf.getvalue().split("\n"))

    def _with_header(self, text: str) -> str:
        if not self.removed:
            return text
        lines = ["# pctl template upgrade left these out (they need a person; see the upgrade report):"]
        lines += ["#   " + re.sub(r"[\x00-\x1f\x7f]", " ", r)[:200] for r in self.removed]
        return "\n".join(lines) + "\n" + text


def larger_head_node(current: str, need_gib: float) -> str | None:
    """The smallest size of the head node's family with at least need_gib of memory (else m6i/m7g)."""
    sizes = ["medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge"]
    fam = rules.instance_family(current)
    fallback = "m7g" if rules.instance_arch(current) == "arm64" else "m6i"
    for family in (fam, fallback):
        for size in sizes:
            cand = f"{family}.{size}"
            mem = rules.memory_gib(cand)
            if mem is not None and mem >= need_gib and rules.instance_type_problem(cand) is None:
                return cand
    return None


# ============================================================================================ entry points

def upgrade_text(text: str, source: str = "<template>", *, catalog=None, path: Path | None = None) -> UpgradeResult:
    return _Upgrader(text, source, path, catalog).run()


def upgrade_file(path: Path, *, source: str | None = None, catalog=None) -> UpgradeResult:
    from pctl.template.load import LoadFailed, decode

    source = source or str(path)
    try:
        raw = path.read_bytes()
        text = decode(raw, source)
    except LoadFailed as exc:
        return UpgradeResult(source=source, text=None, original="", findings=[
            Finding(REVIEW, "", exc.diagnostic.message)], errors=[exc.diagnostic.format()])
    except OSError as exc:
        return UpgradeResult(source=source, text=None, original="", findings=[
            Finding(REVIEW, "", f"cannot read the file: {exc.strerror or exc}")], errors=[str(exc)])
    return upgrade_text(text, source, catalog=catalog, path=path)
