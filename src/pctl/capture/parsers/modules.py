"""Parse environment-module listings (Lmod and Environment Modules/Tcl) into dataclasses.

Supported inputs (auto-detected by :func:`parse_listing`):

* Lmod ``module avail`` (wide, multi-column, path or label section headers, markers, legend,
  localized legend/footer, pager artefacts, repeated sections);
* Environment Modules 3.2 / 4.x / 5.x ``module avail`` (markers glued to names such as
  ``gcc/9.3.0(default)`` or ``mod/1.0(default:9)``, ``<L>`` tags, ``Key:`` legend);
* terse output (``module -t avail``, ``module -t spider``, Tcl ``-t``/``-l``);
* ``module spider`` overview (``  name: name/v1, name/v2, ...``) and ``module spider NAME[/VER]``;
* Lmod spider JSON (``spider -o spider-json``), ``spider -o jsonSoftwarePage`` and
  Environment Modules ``module avail --json``.

The parsers never raise on odd input: they return what they could read plus warnings.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ._text import Warnings, clean_lines, is_pager_artifact

__all__ = [
    "Module",
    "Section",
    "ModuleListing",
    "FORMATS",
    "parse_listing",
    "detect_format",
    "split_full_name",
]

FORMATS = (
    "lmod_avail",
    "tcl_avail",
    "lmod_terse",
    "lmod_spider_terse",
    "lmod_spider",
    "lmod_spider_json",
    "lmod_spider_json_softwarepage",
    "tcl_json",
)

_FMT_ALIASES = {
    "lmod": "lmod_avail",
    "avail": "lmod_avail",
    "lmod-avail": "lmod_avail",
    "tcl": "tcl_avail",
    "tcl-avail": "tcl_avail",
    "envmodules": "tcl_avail",
    "environment-modules": "tcl_avail",
    "terse": "lmod_terse",
    "lmod-terse": "lmod_terse",
    "tcl_terse": "lmod_terse",
    "spider_terse": "lmod_spider_terse",
    "spider-terse": "lmod_spider_terse",
    "spider": "lmod_spider",
    "lmod-spider": "lmod_spider",
    "spider-json": "lmod_spider_json",
    "spider_json": "lmod_spider_json",
    "json": "lmod_spider_json",
    "jsonsoftwarepage": "lmod_spider_json_softwarepage",
    "softwarepage": "lmod_spider_json_softwarepage",
    "spider-jsonsoftwarepage": "lmod_spider_json_softwarepage",
}

# --------------------------------------------------------------------------- data model


@dataclass
class Module:
    name: str
    version: str | None
    full_name: str
    default: bool = False
    hidden: bool = False
    loaded: bool = False
    section: str | None = None
    parents: list[list[str]] | None = None
    markers: list[str] = field(default_factory=list)
    path: str | None = None  # modulefile path, when the source gives it (JSON)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    header: str
    path: str | None = None  # set when the header is a directory (not an Lmod label)
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModuleListing:
    format: str
    modules: list[Module] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def full_names(self) -> list[str]:
        return [m.full_name for m in self.modules]

    def names(self) -> list[str]:
        """Distinct package names (``name`` field), in first-seen order."""
        seen: dict[str, None] = {}
        for m in self.modules:
            seen.setdefault(m.name, None)
        return list(seen)

    def defaults(self) -> list[Module]:
        return [m for m in self.modules if m.default]

    def loaded(self) -> list[Module]:
        return [m for m in self.modules if m.loaded]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "modules": [m.to_dict() for m in self.modules],
            "sections": [s.to_dict() for s in self.sections],
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- helpers


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """``fftw3/openmpi/gcc/64/3.3.8`` -> (``fftw3/openmpi/gcc/64``, ``3.3.8``); ``dot`` -> (``dot``, None)."""
    full_name = full_name.strip().rstrip("/")
    if "/" not in full_name:
        return full_name, None
    name, _, version = full_name.rpartition("/")
    if not name:
        return full_name, None
    return name, version


_LOADED_RE = re.compile(r"^(?:L|[a-z]L|loaded|auto-loaded|active)$")
_HIDDEN_MARKERS = {"H", "hidden", "hidden-loaded"}
_DEFAULT_MARKERS = {"D", "default", "Default", "default-version", "dflt"}


def _make_module(full: str, markers: Iterable[str] = (), section: str | None = None) -> Module:
    full = full.strip()
    name, version = split_full_name(full)
    mk = [m for m in markers if m]
    mod = Module(name=name, version=version, full_name=full, section=section, markers=mk)
    _apply_markers(mod)
    # Lmod/Tcl hide a module when its name or its version starts with "." (.gromacs/2023, python/.3.9)
    if any(part.startswith(".") for part in full.split("/")):
        mod.hidden = True
    return mod


def _apply_markers(mod: Module) -> None:
    for m in mod.markers:
        if m in _DEFAULT_MARKERS:
            mod.default = True
        if m in _HIDDEN_MARKERS:
            mod.hidden = True
        if _LOADED_RE.match(m):
            mod.loaded = True


def _spider_items(text: str, key: str) -> tuple[list[tuple[str, list[str]]], bool, bool]:
    """The `name/v1, name/v2 (D), ...` items of a spider overview line for module KEY.

    Returns (items as (full name, markers), truncated by a trailing '...', stopped at a foreign item).
    Reading stops at the first item that is not a version of KEY."""
    items = [x.strip() for x in text.split(",")]
    low = key.lower()
    parsed: list[tuple[str, list[str]]] = []
    truncated = foreign = False
    for i, it in enumerate(items):
        if it == "":
            continue
        if it in ("...", "…") and i == len(items) - 1:
            truncated = True
            continue
        im = _SPIDER_ITEM_RE.match(it)
        full = im.group(1) if im else ""
        if not im or not (full.lower() == low or full.lower().startswith(low + "/")):
            foreign = True
            break
        mk = [x for p in re.findall(r"\(([^()]*)\)", im.group(2) or "") for x in _split_marker_text(p)]
        parsed.append((full, mk))
    return parsed, truncated, foreign


def _split_marker_text(inner: str) -> list[str]:
    parts = re.split(r"[,:]", inner)
    return [p.strip() for p in parts if p.strip()]


_MARKER_TOKEN_RE = re.compile(r"^(?:\(([^()\s]*)\)|<([^<>\s]*)>)$")
_GLUED_RE = re.compile(r"^(.*?[^(<\s])((?:\([^()\s]*\)|<[^<>\s]*>)+)$")
_GLUED_PART_RE = re.compile(r"\(([^()\s]*)\)|<([^<>\s]*)>")
# characters that never occur in a module name; a token containing one means "not an entry"
_BAD_TOKEN_RE = re.compile(r"[\"'`!?;|&$\\{}\[\]*=:]|^-+$|^\d+\)$")


def _marker_of(token: str) -> list[str] | None:
    m = _MARKER_TOKEN_RE.match(token)
    if not m:
        return None
    inner = m.group(1) if m.group(1) is not None else m.group(2)
    return _split_marker_text(inner) or ["()"]


def _split_glued(token: str) -> tuple[str, list[str]]:
    m = _GLUED_RE.match(token)
    if not m:
        return token, []
    base, tail = m.group(1), m.group(2)
    markers: list[str] = []
    for pm in _GLUED_PART_RE.finditer(tail):
        inner = pm.group(1) if pm.group(1) is not None else pm.group(2)
        markers.extend(_split_marker_text(inner) or ["()"])
    return base, markers


def _valid_name(token: str) -> bool:
    return bool(token) and not _BAD_TOKEN_RE.search(token) and not token.startswith("-")


# --------------------------------------------------------------------------- line classification

_HEADER_RE = re.compile(r"^\s*-{3,}\s*(.*?)\s*-{3,}\s*$")
_DASHES_RE = re.compile(r"^\s*-{3,}\s*$")
_LEGEND_RE = re.compile(r"^\s*[^\s/:()\[\]\"']{1,30}:\s*$")
_FOOTER_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r'^\s*Use "?(?:module|ml)\b',
        r"^\s*If the avail list is too long",
        r'^\s*"?(?:module|ml) --default avail',
        r'^\s*"?(?:module|ml) overview',
        r"^\s*Module defaults are chosen",
        r"^\s*See https?://",
        r"^\s*Verwenden Sie\b",
        r"^\s*Utilisez\b",
        r"^\s*Utilice\b",
        r"^\s*No module\(?s\)? or extension\(?s\)? found",
        r"^\s*No modules? (?:found|available|matching)",
        r"^\s*No matching modules? found",
        r"^\s*Lmod (?:has detected|Warning|Error)",
        r"^\s*To learn more about",
        r"^\s*Names marked by a trailing",
        r"^\s*Note that names that have a trailing",
        r"^\s*any of the \"keys\"",
        r"^\s*ERROR:",
        r"^\s*WARNING:",
        r"^\s*Inactive Modules?:",
        r"^\s*Module files? in .* not found",
    )
]
_LOADED_HDR_RE = re.compile(r"^\s*Currently Loaded Module(?:s|files)(?: Matching:.*)?:?\s*$", re.IGNORECASE)
_NO_LOADED_RE = re.compile(r"^\s*No (?:Modulefiles Currently Loaded|modules loaded)", re.IGNORECASE)
_LOADED_ITEM_RE = re.compile(r"(?:^|\s)\d+\)\s+(\S+)")
_SPIDER_START_RE = re.compile(
    r"^\s*The following is a list of the modules(?: and extensions)? currently available:?\s*$", re.IGNORECASE
)
_SPIDER_ENTRY_RE = re.compile(r"^\s{1,8}([^\s:]+):\s+(\S.*?)\s*$")
_SPIDER_DETAIL_KEY_RE = re.compile(r"^ {2}([^\s:]+):\s*$")  # "  gromacs:" of "module spider gromacs"
_SPIDER_ITEM_RE = re.compile(r"^([^\s(),]+)((?:\s*\([^()]*\))*)$")
_VERSIONS_HDR_RE = re.compile(r"^\s*Versions:\s*$")
_OTHER_MATCHES_RE = re.compile(r"^\s*Other possible modules? match", re.IGNORECASE)
_NEED_LOAD_RE = re.compile(r'You will need to load all module\(s\) on any one of the lines below before the "([^"]+)"')
_TCL_LONG_HDR_RE = re.compile(r"^\s*-\s*Package(?:/Alias)?\s*-+")
_DATE_RE = re.compile(r"^\d{4}/\d{2}/\d{2}$")
_TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def _is_footer(line: str) -> bool:
    return any(r.match(line) for r in _FOOTER_RES)


def _looks_like_prose(tokens: list[str]) -> bool:
    """Heuristic for localized footers: a sentence ending in punctuation."""
    if len(tokens) < 3:
        return False
    if not re.search(r"[.:!?]$", tokens[-1]):
        return False
    slashy = sum(1 for t in tokens if "/" in t)
    return slashy * 2 < len(tokens)


def _is_terse_dir(stripped: str) -> bool:
    return (
        stripped.endswith(":")
        and len(stripped) > 1
        and not any(c.isspace() for c in stripped)
        and not stripped.startswith("(")
    )


def _header_section(label: str) -> Section:
    is_path = label.startswith(("/", "~", "$")) or bool(re.match(r"^[A-Za-z]:[\\/]", label))
    return Section(header=label, path=label if is_path else None)


# --------------------------------------------------------------------------- text parser


class _TextParser:
    def __init__(self, fmt: str | None) -> None:
        self.fmt = fmt
        self.modules: list[Module] = []
        self.sections: list[Section] = []
        self.warnings = Warnings()
        self._sec_by_header: dict[str, Section] = {}
        self._sec_names: dict[str, set[str]] = {}
        self._repeat_counts: dict[str, int] = {}
        self._first: dict[tuple[str | None, str], Module] = {}
        self.cur: Section | None = None
        self.cur_repeat = False
        self.cur_indented: bool | None = None
        self.state = "none"  # none | avail | terse | skip | loaded | spider | versions | parents
        self.loaded_names: set[str] = set()
        # what kinds of content were seen (for format labelling)
        self.seen: dict[str, int] = {}
        self.glued_markers = 0
        self.indented_lines = 0
        self.flush_lines = 0
        self.spider_key: str | None = None
        self.spider_cont = False
        self.parents_for: str | None = None
        self.parents_lines: list[list[str]] = []
        self.parents_started = False
        self.truncated: list[str] = []
        self.bad_lines = 0
        self.overview: dict[str, int] = {}

    # ---- section management
    def _open_section(self, label: str, kind: str) -> None:
        self.seen[kind] = self.seen.get(kind, 0) + 1
        if label in self._sec_by_header:
            self.cur = self._sec_by_header[label]
            self.cur_repeat = True
            self._repeat_counts[label] = self._repeat_counts.get(label, 1) + 1
        else:
            sec = _header_section(label)
            self.sections.append(sec)
            self._sec_by_header[label] = sec
            self._sec_names[label] = set()
            self.cur = sec
            self.cur_repeat = False
        self.cur_indented = None

    def _add(self, full: str, markers: list[str], section: Section | None) -> Module | None:
        full = full.strip()
        if not full or not _valid_name(full) or full.endswith("/"):
            return None  # "name/" is a directory entry (terse header, spider continuation), never a module
        header = section.header if section else None
        if section is not None and self.cur_repeat and full in self._sec_names.get(section.header, set()):
            # repeated print of the same section (pager): merge markers into the first copy
            m = self._first.get((header, full))
            if m is not None:
                for mk in markers:
                    if mk not in m.markers:
                        m.markers.append(mk)
                _apply_markers(m)
            return m
        mod = _make_module(full, markers, header)
        self.modules.append(mod)
        self._first.setdefault((header, full), mod)
        if section is not None:
            section.count += 1
            self._sec_names.setdefault(section.header, set()).add(full)
        return mod

    def _last_in_section(self) -> Module | None:
        if not self.modules:
            return None
        last = self.modules[-1]
        if self.cur is None or last.section == self.cur.header:
            return last
        return None

    # ---- per-state handlers
    def _avail_line(self, line: str) -> None:
        stripped = line.strip()
        indented = line[:1].isspace()
        if self.cur_indented is None:
            self.cur_indented = indented
        elif self.cur_indented and not indented:
            # Lmod entries are indented; an unindented line is a footer / foreign text
            self.state = "skip"
            return
        tokens = stripped.split()
        if tokens[0].endswith(":") or _looks_like_prose(tokens) or any(t.startswith('"') for t in tokens):
            # legend item ("D:  Default Module") without its header, or a footer sentence
            self.state = "skip"
            return
        if indented:
            self.indented_lines += 1
        else:
            self.flush_lines += 1
        entries: list[tuple[str, list[str]]] = []
        bad: list[str] = []
        skip_target = False
        for tok in tokens:
            mk = _marker_of(tok)
            if mk is not None:
                if entries:
                    entries[-1][1].extend(mk)
                else:
                    last = self._last_in_section()
                    if last is not None:  # marker wrapped onto its own line
                        for x in mk:
                            if x not in last.markers:
                                last.markers.append(x)
                        _apply_markers(last)
                continue
            if skip_target:
                skip_target = False
                continue
            if tok == "->" and entries:  # "alias -> target": keep the alias, drop the target
                entries[-1][1].append("@")
                skip_target = True
                continue
            base, glued = _split_glued(tok)
            if glued:
                self.glued_markers += 1
            if not _valid_name(base):
                bad.append(tok)
                continue
            entries.append((base, list(glued)))
        if bad:
            self.bad_lines += 1
            self.warnings.add(f"ignored unexpected token(s) {' '.join(bad[:3])!r} in section {self.cur.header if self.cur else None!r}")
        real = entries
        if real and all("/" not in b and len(mk) == 1 and mk[0].isdigit() for b, mk in real):
            # "module overview": "gcc (2)   python (3)" -- counts per name, not modulefiles
            self.seen["overview"] = self.seen.get("overview", 0) + 1
            for b, mk in real:
                self.overview[b] = int(mk[0])
            return
        for base, mk in real:
            if base.endswith("/"):
                continue  # "name/" or "name/(sym)": a directory entry, not a modulefile
            if self._add(base, mk, self.cur) is not None:
                self.seen["avail_entry"] = self.seen.get("avail_entry", 0) + 1

    def _terse_line(self, line: str) -> bool:
        """Handle one line in terse mode. Returns False when the line is not terse content."""
        stripped = line.strip()
        tokens = stripped.split()
        if not tokens:
            return True
        name_tok = tokens[0]
        rest = tokens[1:]
        markers: list[str] = []
        if rest:
            # Tcl "-l" long format: name [symbols] YYYY/MM/DD HH:MM:SS
            if len(rest) >= 2 and _DATE_RE.match(rest[-2]) and _TIME_RE.match(rest[-1]):
                markers.extend(x for r in rest[:-2] for x in _split_marker_text(r))
            else:
                for r in rest:
                    mk = _marker_of(r)
                    if mk is None:
                        return False
                    markers.extend(mk)
        base, glued = _split_glued(name_tok)
        if not _valid_name(base):
            return False
        markers = glued + markers
        self.seen["terse_entry"] = self.seen.get("terse_entry", 0) + 1
        if base.endswith("/"):
            self.seen["terse_namedir"] = self.seen.get("terse_namedir", 0) + 1
            return True  # "name/" header of a name group (Lmod -t), not a module
        self._add(base, markers, self.cur)
        return True

    def _spider_entry(self, line: str) -> bool:
        m = _SPIDER_ENTRY_RE.match(line)
        if not m:
            return False
        key, rest = m.group(1), m.group(2)
        parsed, truncated, _ = _spider_items(rest, key)
        if not parsed:
            return False
        self.seen["spider"] = self.seen.get("spider", 0) + 1
        self.spider_key = key
        self.spider_cont = rest.rstrip().endswith(",")
        for full, mk in parsed:
            self._add(full, mk, None)
        if truncated:
            self.truncated.append(key)
        self.state = "spider"
        return True

    def _spider_continuation(self, line: str) -> bool:
        if not self.spider_key:
            return False
        stripped = line.strip()
        if not stripped:
            return False
        parsed, truncated, foreign = _spider_items(stripped, self.spider_key)
        if foreign:  # a continuation line holds only this module's versions
            return False
        if not parsed and not truncated:
            return False
        if not self.spider_cont and not any("/" in f for f, _ in parsed):
            return False
        for full, mk in parsed:
            self._add(full, mk, None)
        if truncated:
            self.truncated.append(self.spider_key)
        self.spider_cont = stripped.endswith(",")
        return True

    def _finish_parents(self) -> None:
        if self.parents_for and self.parents_lines:
            target = None
            for m in reversed(self.modules):
                if m.full_name == self.parents_for:
                    target = m
                    break
            if target is None:
                target = self._add(self.parents_for, [], None)
            if target is not None:
                target.parents = [list(p) for p in self.parents_lines]
        self.parents_for = None
        self.parents_lines = []
        self.parents_started = False

    # ---- main loop
    def run(self, lines: list[str]) -> None:
        for raw in lines:
            self._line(raw)
        if self.state == "parents":
            self._finish_parents()

    def _line(self, line: str) -> None:
        stripped = line.strip()
        if is_pager_artifact(line):
            self.seen["pager"] = self.seen.get("pager", 0) + 1
            return
        # --- parents block of "module spider name/version"
        if self.state == "parents":
            if not stripped:
                if self.parents_started:
                    self._finish_parents()
                    self.state = "spider"
                return
            if _HEADER_RE.match(line) or _DASHES_RE.match(line) or stripped.endswith(":"):
                self._finish_parents()
                self.state = "spider"
            else:
                toks = [t for t in stripped.split() if _valid_name(t)]
                if toks:
                    self.parents_lines.append(toks)
                self.parents_started = True
                return
        # --- lines that switch state wherever they appear
        if stripped.startswith("#"):
            self.state = "none"  # comment / "##### command" separator of a composite capture
            self.cur = None
            return
        hm = _HEADER_RE.match(line)
        if hm and hm.group(1):
            self._open_section(hm.group(1), "avail_section")
            self.state = "avail"
            return
        if _DASHES_RE.match(line):
            if self.state in ("avail", "terse", "loaded"):
                self.state = "none"
            return
        if not line[:1].isspace() and "/" in stripped and _is_terse_dir(stripped):
            self._open_section(stripped[:-1], "terse_dir")  # "/path/to/modulefiles:" (terse)
            self.state = "terse"
            return
        if _LOADED_HDR_RE.match(line):
            self.state = "loaded"
            return
        if _NO_LOADED_RE.match(line):
            return
        if _SPIDER_START_RE.match(line):
            self.state = "spider"
            self.seen["spider_start"] = 1
            return
        if self.state in ("spider", "versions", "none"):
            nm = _NEED_LOAD_RE.search(line)
            if nm:
                self.parents_for = nm.group(1)
                self.parents_lines = []
                self.parents_started = False
                self.state = "parents"
                return
        # --- state specific
        if self.state == "loaded":
            if not stripped:
                return
            items = _LOADED_ITEM_RE.findall(line)
            if items:
                for it in items:
                    base, _mk = _split_glued(it)
                    self.loaded_names.add(base)
                return
            self.state = "none"
            # fall through: the line may be something else
        if self.state == "avail":
            if not stripped:
                return
            if _LEGEND_RE.match(line):
                self.state = "skip"
                return
            if _is_footer(line):
                self.state = "skip"
                return
            if _is_terse_dir(stripped) and "/" in stripped:
                self._open_section(stripped[:-1], "terse_dir")
                self.state = "terse"
                return
            self._avail_line(line)
            return
        if self.state == "skip":
            if _is_terse_dir(stripped) and "/" in stripped:
                self._open_section(stripped[:-1], "terse_dir")
                self.state = "terse"
            return
        if self.state == "versions":
            if not stripped:
                return
            if _OTHER_MATCHES_RE.match(line) or stripped.endswith(":"):
                self.state = "spider"
                return
            toks = stripped.split()
            key = (self.spider_key or "").lower()
            if toks and (toks[0].lower() == key or toks[0].lower().startswith(key + "/")) and _valid_name(toks[0]):
                mk = [x for t in toks[1:] for x in (_marker_of(t) or [])]
                self._add(toks[0], mk, None)
                self.seen["spider"] = self.seen.get("spider", 0) + 1
                return
            self.state = "spider"
            return
        if self.state in ("spider", "none", "terse"):
            if self.state != "terse" and self._spider_entry(line):
                return
            if self.state == "spider":
                if self._spider_continuation(line):
                    return
                km = _SPIDER_DETAIL_KEY_RE.match(line)
                if km:
                    self.spider_key = km.group(1)
                    return
                if _VERSIONS_HDR_RE.match(line) and self.spider_key:
                    self.state = "versions"
                    return
                self.spider_cont = False
                return
            if self.state == "none":
                km = _SPIDER_DETAIL_KEY_RE.match(line)
                if km:
                    # "  gromacs:" header of "module spider gromacs"
                    self.spider_key = km.group(1)
                    self.state = "spider"
                    return
            if not stripped:
                return
            if _is_terse_dir(stripped) and "/" in stripped:
                self._open_section(stripped[:-1], "terse_dir")
                self.state = "terse"
                return
            if _TCL_LONG_HDR_RE.match(line):
                return
            if self.state == "terse":
                if self._terse_line(line):
                    return
                if _is_footer(line):
                    self.state = "skip"
                    return
                self.bad_lines += 1
                self.warnings.add(f"ignored line in terse section {self.cur.header if self.cur else None!r}: {stripped[:60]!r}")
                return
            # state none: headerless terse (module -t spider) or unrelated text
            toks = stripped.split()
            if len(toks) == 1 and not line[:1].isspace() and not re.fullmatch(r"[\d.]+", toks[0]):
                if self._terse_line(line):
                    return
            return

    # ---- result
    def result(self) -> ModuleListing:
        if self.loaded_names:
            for m in self.modules:
                if m.full_name in self.loaded_names:
                    m.loaded = True
        for label, n in self._repeat_counts.items():
            self.warnings.add(f"section {label!r} printed {n} times (pager capture?); merged")
        if self.truncated:
            uniq = list(dict.fromkeys(self.truncated))
            self.warnings.add(
                f"spider version list cut with '...' for {len(uniq)} name(s): {', '.join(uniq[:10])}"
                + (" ..." if len(uniq) > 10 else "")
            )
        if self.overview:
            self.warnings.add(
                f"'module overview' output skipped: {len(self.overview)} name(s) with version counts only"
            )
        fmt = self.fmt or self._label()
        return ModuleListing(format=fmt, modules=self.modules, sections=self.sections, warnings=list(self.warnings))

    def _label(self) -> str:
        kinds = []
        if self.seen.get("avail_entry"):
            kinds.append("avail")
        if self.seen.get("terse_entry"):
            kinds.append("terse")
        if self.seen.get("spider"):
            kinds.append("spider")
        if not kinds:
            if self.overview:
                return "lmod_overview"
            return "unknown"
        if len(kinds) > 1:
            return "mixed"
        k = kinds[0]
        if k == "avail":
            tcl = self.glued_markers > 0 or (self.flush_lines > self.indented_lines)
            return "tcl_avail" if tcl else "lmod_avail"
        if k == "terse":
            if not self.seen.get("terse_dir"):
                return "lmod_spider_terse"
            return "lmod_terse"
        return "lmod_spider"


# --------------------------------------------------------------------------- JSON parsers


def _mpath_from_path(path: str | None, full: str) -> str | None:
    if not path:
        return None
    p = re.sub(r"\.lua$", "", path)
    if p.endswith("/" + full):
        return p[: -len(full) - 1]
    return None


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "d", "default")
    return False


def _parents(v: Any) -> list[list[str]] | None:
    if not v:
        return None
    out: list[list[str]] = []
    if isinstance(v, list):
        for row in v:
            if isinstance(row, list):
                out.append([str(x) for x in row if isinstance(x, (str, int, float))])
            elif isinstance(row, str):
                out.append([x for x in re.split(r"[\s:]+", row) if x])
    elif isinstance(v, dict):  # lua tables sometimes serialise as {"1": [...]}
        for _k, row in sorted(v.items(), key=lambda kv: str(kv[0])):
            if isinstance(row, list):
                out.append([str(x) for x in row])
    return out or None


def _parse_spider_json(data: dict, w: Warnings) -> ModuleListing:
    mods: list[Module] = []
    secs: dict[str, Section] = {}
    for sn in sorted(data, key=str):
        entries = data[sn]
        if not isinstance(entries, dict):
            w.add(f"spider-json: entry {sn!r} is not an object")
            continue
        for path in sorted(entries, key=str):
            e = entries[path]
            if not isinstance(e, dict):
                continue
            full = e.get("fullName") or e.get("full") or e.get("fullname")
            if not isinstance(full, str) or not full.strip():
                w.add(f"spider-json: no fullName for {path!r}")
                continue
            mpath = e.get("mpath") if isinstance(e.get("mpath"), str) else _mpath_from_path(str(path), full)
            mod = _make_module(full, [], mpath)
            mod.path = str(path)
            if _truthy(e.get("hidden")):
                mod.hidden = True
            for k in ("isDefault", "markedDefault", "default", "Default", "defaultVersion"):
                if k in e and _truthy(e[k]):
                    mod.default = True
                    if "D" not in mod.markers:
                        mod.markers.append("D")
            mod.parents = _parents(e.get("parentAA") or e.get("parent"))
            prop = e.get("propT")
            if isinstance(prop, dict):
                for cat, vals in sorted(prop.items()):
                    if isinstance(vals, dict):
                        for v in sorted(vals):
                            mod.markers.append(f"{cat}:{v}")
            mods.append(mod)
            if mpath:
                sec = secs.setdefault(mpath, _header_section(mpath))
                sec.count += 1
    return ModuleListing("lmod_spider_json", mods, list(secs.values()), list(w))


def _parse_software_page(data: list, w: Warnings) -> ModuleListing:
    mods: list[Module] = []
    secs: dict[str, Section] = {}
    for pkg in data:
        if not isinstance(pkg, dict):
            continue
        dflt = pkg.get("defaultVersionName")
        versions = pkg.get("versions")
        if not isinstance(versions, list):
            w.add(f"jsonSoftwarePage: package {pkg.get('package')!r} has no versions list")
            continue
        for v in versions:
            if not isinstance(v, dict):
                continue
            full = v.get("full") or v.get("fullName")
            if not isinstance(full, str) or not full.strip():
                continue
            path = v.get("path") if isinstance(v.get("path"), str) else None
            mpath = _mpath_from_path(path, full)
            mod = _make_module(full, [], mpath)
            mod.path = path
            vname = v.get("versionName")
            if _truthy(v.get("markedDefault")) or (
                isinstance(dflt, str) and dflt and isinstance(vname, str) and vname == dflt
            ):
                mod.default = True
                mod.markers.append("D")
            if _truthy(v.get("hidden")):
                mod.hidden = True
            mod.parents = _parents(v.get("parent") or v.get("parentAA"))
            mods.append(mod)
            if mpath:
                sec = secs.setdefault(mpath, _header_section(mpath))
                sec.count += 1
    return ModuleListing("lmod_spider_json_softwarepage", mods, list(secs.values()), list(w))


def _parse_tcl_json(data: dict, w: Warnings) -> ModuleListing:
    mods: list[Module] = []
    secs: list[Section] = []
    for mpath, entries in data.items():
        if not isinstance(entries, dict):
            continue
        sec = _header_section(str(mpath))
        secs.append(sec)
        for key, e in entries.items():
            if not isinstance(e, dict):
                continue
            typ = e.get("type", "modulefile")
            if typ not in ("modulefile", "virtual", "alias"):
                continue  # directories etc.
            full = e.get("name") or key
            if not isinstance(full, str):
                continue
            markers: list[str] = []
            syms = e.get("symbols") or []
            if isinstance(syms, list):
                markers.extend(str(s) for s in syms)
            tags = e.get("tags") or []
            if isinstance(tags, list):
                markers.extend(str(t) for t in tags)
            if typ == "alias":
                markers.append("@")
            mod = _make_module(full, markers, str(mpath))
            if isinstance(e.get("pathname"), str):
                mod.path = e["pathname"]
            mods.append(mod)
            sec.count += 1
    return ModuleListing("tcl_json", mods, secs, list(w))


def _parse_json(text: str, w: Warnings, fmt: str | None) -> ModuleListing | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, list):
        if not data or all(isinstance(x, dict) and "versions" in x for x in data):
            return _parse_software_page(data, w)
        w.add("JSON list is not a spider jsonSoftwarePage document")
        return _parse_software_page([x for x in data if isinstance(x, dict)], w)
    if isinstance(data, dict):
        inner = [v for v in data.values() if isinstance(v, dict)]
        leafs = [x for v in inner for x in v.values() if isinstance(x, dict)]
        if leafs and any("fullName" in x for x in leafs):
            return _parse_spider_json(data, w)
        if leafs and any("type" in x and ("name" in x or "symbols" in x) for x in leafs):
            return _parse_tcl_json(data, w)
        if fmt == "lmod_spider_json" or not data:
            return _parse_spider_json(data, w)
        w.add("unrecognised JSON document (not spider-json, jsonSoftwarePage or module avail --json)")
        return ModuleListing("unknown", [], [], list(w))
    w.add("unrecognised JSON document")
    return ModuleListing("unknown", [], [], list(w))


# --------------------------------------------------------------------------- public API


def _normalise_fmt(fmt: str | None, w: Warnings) -> str | None:
    if fmt is None:
        return None
    f = fmt.strip().lower().replace(" ", "_")
    if f in FORMATS:
        return f
    if f in _FMT_ALIASES:
        return _FMT_ALIASES[f]
    f2 = f.replace("-", "_")
    if f2 in FORMATS:
        return f2
    w.add(f"unknown listing format {fmt!r}; auto-detecting")
    return None


def detect_format(text: str) -> str:
    """Best-effort format label for a listing (same labels as ``ModuleListing.format``)."""
    return parse_listing(text).format


def parse_listing(text: str | bytes | None, fmt: str | None = None) -> ModuleListing:
    """Parse a module listing. ``fmt`` (one of :data:`FORMATS` or an alias) skips detection.

    Never raises: unreadable parts become entries in ``warnings``.
    """
    w = Warnings()
    try:
        return _parse_listing(text, fmt, w)
    except Exception as exc:  # pragma: no cover - defensive: the parser must never raise
        w.add(f"internal parser error: {type(exc).__name__}: {exc}")
        return ModuleListing("unknown", [], [], list(w))


def _parse_listing(text: str | bytes | None, fmt: str | None, w: Warnings) -> ModuleListing:
    nfmt = _normalise_fmt(fmt, w)
    if text is None:
        return ModuleListing(nfmt or "unknown", [], [], list(w))
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = str(text)
    s = text.lstrip("\ufeff").strip()
    json_wanted = nfmt in ("lmod_spider_json", "lmod_spider_json_softwarepage", "tcl_json")
    if s[:1] in ("{", "[") or json_wanted:
        res = _parse_json(s, w, nfmt)
        if res is not None:
            if nfmt and res.format != "unknown":
                res.format = nfmt
            return res
        if json_wanted:
            w.add("input is not valid JSON; trying text formats")
    p = _TextParser(nfmt if nfmt and not json_wanted else None)
    p.warnings.extend(w)
    p.run(clean_lines(text))
    res = p.result()
    if not res.modules and s:
        res.warnings.append("no modules found in the listing")
    return res
