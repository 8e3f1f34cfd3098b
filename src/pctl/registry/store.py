"""The registry's templates as entries: the bundled library plus every cached source.

Reads only local files (the library and the cache). A source's cache folder holds::

    meta.json      kind, location, ref, when it was updated, git commit, template count
    entries.json   one entry per template: name, path (in tree/), title, description, tags,
                   version, Spack package names, queues, extends
    tree/          the templates (a git clone, the files an index lists, or a copied folder)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pctl.registry.paths import cache_root, source_dir
from pctl.registry.sources import LIBRARY

ENTRIES_FORMAT = 1
TEMPLATE_KEYS = ("cluster", "compute", "extends")  # a YAML file with none of these is not a template


@dataclass(frozen=True)
class Entry:
    source: str
    name: str  # path inside the source, without .yaml: "chemistry/gromacs"
    path: Path  # the file
    title: str = ""
    description: str = ""
    tags: tuple = ()
    version: str = ""
    packages: tuple = ()  # Spack package names (with inherited ones when extends resolved)
    queues: tuple = ()
    extends: tuple = ()
    sha256: str = ""

    @property
    def qualified(self) -> str:
        """What -t accepts without ambiguity: NAME for the library, SOURCE/NAME for others."""
        return self.name if self.source == LIBRARY else f"{self.source}/{self.name}"

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.qualified, "path": self.name, "title": self.title,
                "description": self.description, "tags": list(self.tags), "version": self.version,
                "packages": len(self.packages), "package_names": list(self.packages), "queues": list(self.queues),
                "extends": list(self.extends)}


@dataclass
class SourceState:
    name: str
    kind: str  # "bundled" | "git" | "index" | "dir"
    location: str
    ref: str | None = None
    updated: _dt.datetime | None = None
    commit: str | None = None
    entries: list[Entry] = field(default_factory=list)
    cached: bool = False

    def age(self) -> str:
        if self.kind == "bundled":
            return "bundled with pctl"
        if not self.cached or self.updated is None:
            return f"not downloaded yet (pctl registry update {self.name})"
        return "cache updated " + ago(self.updated)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "location": self.location, "ref": self.ref,
                "templates": len(self.entries), "cached": self.cached or self.kind == "bundled",
                "updated": self.updated.isoformat() if self.updated else None, "commit": self.commit,
                "age": self.age()}


def ago(when: _dt.datetime, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    s = (now - when).total_seconds()
    if s < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= size:
            n = int(s // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # pragma: no cover


# ---------------------------------------------------------------- describing templates


def _metadata_text(v, limit: int) -> str:
    return v.strip()[:limit] if isinstance(v, str) else ""


def describe(path: Path, name: str, *, resolve: bool = True) -> dict | None:
    """The entry fields of one template file; None when the file is not a template."""
    from pctl.template.load import LoadFailed

    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        from pctl.template.load import decode, load_text

        loaded = load_text(decode(raw, name), name, path)
    except LoadFailed as exc:
        return {"name": name, "error": exc.diagnostic.format(), "sha256": hashlib.sha256(raw).hexdigest()}
    data = loaded.data
    if not is_template(data):
        return None
    if resolve and ("extends" in data or "remove" in data):
        try:
            from pctl.registry.names import FINDER
            from pctl.template.extends import resolve_extends

            data = resolve_extends(loaded, finder=FINDER).data
        except Exception:  # a broken parent: describe the template as written
            data = loaded.data
    return describe_loaded(loaded, name, raw, data)


def is_template(data) -> bool:
    return isinstance(data, dict) and any(k in data for k in TEMPLATE_KEYS)


def describe_loaded(loaded, name: str, raw: bytes, data: dict | None = None) -> dict:
    """The entry fields of a template already read and parsed (``data``: the template with its extends:
    parents merged, when the caller has it), so no file is read twice."""
    data = loaded.data if data is None else data
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    from pctl.template.extends import _spack_key

    specs = data.get("software", {}).get("spack_packages", []) if isinstance(data.get("software"), dict) else []
    packages = list(dict.fromkeys(k for k in (_spack_key(s) for s in specs if isinstance(specs, list)) if k)) \
        if isinstance(specs, list) else []
    queues = data.get("compute", {}).get("queues", []) if isinstance(data.get("compute"), dict) else []
    qnames = [q["name"] for q in queues if isinstance(q, dict) and isinstance(q.get("name"), str)] \
        if isinstance(queues, list) else []
    ext = loaded.data.get("extends")
    ext = [ext] if isinstance(ext, str) else [e for e in ext if isinstance(e, str)] if isinstance(ext, list) else []
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    version = meta.get("version")
    return {
        "name": name,
        "title": _metadata_text(meta.get("title"), 120),
        "description": " ".join(_metadata_text(meta.get("description"), 4000).split()),
        "tags": [t for t in tags if isinstance(t, str)][:30],
        "version": str(version) if isinstance(version, (str, int, float)) and not isinstance(version, bool) else "",
        "packages": packages,
        "queues": qnames,
        "extends": ext,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def inside(path: Path, root: Path) -> bool:
    """Does ``path``, with every symbolic link followed, stay inside ``root``?"""
    try:
        path.resolve(strict=True).relative_to(root.resolve(strict=True))
        return True
    except (ValueError, OSError, RuntimeError):  # outside, dangling, or a link loop
        return False


def template_files(root: Path, refused: list[str] | None = None) -> list[Path]:
    """Every *.yaml / *.yml under root, skipping hidden files and folders (.git, .github ...).

    A file or folder that is a symbolic link leading outside ``root`` (``x.yaml -> /etc/passwd``,
    ``shared -> /home``) is refused: its name and target are added to ``refused``. Links to folders are
    never followed (a link inside the source is listed by its real path)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            link = Path(dirpath) / d
            if not d.startswith(".") and link.is_symlink() and not inside(link, root) and refused is not None:
                refused.append(_refusal(link, root))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.startswith(".") or not f.endswith((".yaml", ".yml")):
                continue
            p = Path(dirpath) / f
            if not inside(p, root):
                if refused is not None:
                    refused.append(_refusal(p, root))
                continue
            if p.is_file():
                out.append(p)
    return out


def _refusal(link: Path, root: Path) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    return (f"{link.relative_to(root).as_posix()}: a symbolic link to {target}, outside the source; refused "
            "(a source's templates must be its own files)")


def name_of(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def scan(root: Path) -> tuple[list[dict], list[str]]:
    """(entries, skipped messages) for a folder of templates."""
    entries, skipped, seen = [], [], set()
    for p in template_files(root, skipped):
        name = name_of(p, root)
        if name in seen:
            skipped.append(f"{p.relative_to(root).as_posix()}: {name} is already defined")
            continue
        d = describe(p, name)
        if d is None:
            continue
        if "error" in d:
            skipped.append(d["error"])
            continue
        d["path"] = p.relative_to(root).as_posix()
        seen.add(name)
        entries.append(d)
    return entries, skipped


def _entry(source: str, root: Path, d: dict) -> Entry:
    return Entry(source=source, name=d["name"], path=root / d["path"], title=d.get("title") or "",
                 description=d.get("description") or "", tags=tuple(d.get("tags") or ()),
                 version=d.get("version") or "", packages=tuple(d.get("packages") or ()),
                 queues=tuple(d.get("queues") or ()), extends=tuple(d.get("extends") or ()),
                 sha256=d.get("sha256") or "")


# ---------------------------------------------------------------- the library


def _library_signature() -> str:
    from pctl import __version__, library

    h = hashlib.sha256(f"{__version__}\0{ENTRIES_FORMAT}".encode())
    for p in template_files(library.ROOT):
        st = p.stat()
        h.update(f"{p.relative_to(library.ROOT).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


_LIB_MEMO: list[Entry] | None = None


def library_entries() -> list[Entry]:
    """Entries of the bundled library (described once, then cached by file sizes and times)."""
    global _LIB_MEMO
    if _LIB_MEMO is not None:
        return _LIB_MEMO
    from pctl import library

    sig = _library_signature()
    cache = cache_root() / "library-entries.json"
    raw = None
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("signature") == sig and isinstance(doc.get("entries"), list):
            raw = doc["entries"]
    except (OSError, ValueError):
        pass
    if raw is None:
        raw, _ = scan(library.ROOT)
        try:
            _write_json(cache, {"signature": sig, "entries": raw})
        except OSError:
            pass  # a read-only cache only costs time
    _LIB_MEMO = [_entry(LIBRARY, library.ROOT, d) for d in raw]
    return _LIB_MEMO


# ---------------------------------------------------------------- cached sources


def _write_json(path: Path, obj) -> None:
    from pctl.fsio import atomic_write

    atomic_write(path, json.dumps(obj, indent=1, ensure_ascii=False))


def write_cache_files(name: str, meta: dict, entries: list[dict]) -> None:
    d = source_dir(name)
    _write_json(d / "entries.json", {"format": ENTRIES_FORMAT, "entries": entries})
    _write_json(d / "meta.json", meta)


def read_meta(name: str) -> dict | None:
    try:
        doc = json.loads((source_dir(name) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _parse_time(value) -> _dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def source_state(cfg) -> SourceState:
    """What the cache holds for one configured source (SourceConfig)."""
    st = SourceState(cfg.name, cfg.kind, cfg.location, cfg.ref)
    meta = read_meta(cfg.name)
    if meta is None or meta.get("location") != cfg.location or meta.get("ref") != cfg.ref:
        return st
    try:
        doc = json.loads((source_dir(cfg.name) / "entries.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return st
    root = source_dir(cfg.name) / "tree"
    entries = []
    for d in doc.get("entries", []) if isinstance(doc, dict) else []:
        if isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("path"), str):
            e = _entry(cfg.name, root, d)
            if e.path.is_file() and inside(e.path, root):
                entries.append(e)
    st.entries = entries
    st.cached = True
    st.updated = _parse_time(meta.get("updated"))
    st.commit = meta.get("commit") if isinstance(meta.get("commit"), str) else None
    return st


def library_state() -> SourceState:
    from pctl import library

    st = SourceState(LIBRARY, "bundled", str(library.ROOT))
    st.entries = library_entries()
    st.cached = True
    return st


def states(*, include_library: bool = True) -> list[SourceState]:
    from pctl.registry.config import load_sources

    out = [library_state()] if include_library else []
    out += [source_state(c) for c in load_sources()]
    return out


def registry_entries() -> list[Entry]:
    """Entries of every cached registry source (not the library)."""
    out = []
    for st in states(include_library=False):
        out += st.entries
    return out


def all_entries(source: str | None = None) -> list[Entry]:
    sts = states()
    if source is not None:
        sts = [s for s in sts if s.name == source]
    return [e for s in sts for e in s.entries]


def not_downloaded() -> list[str]:
    return [s.name for s in states(include_library=False) if not s.cached]


def lookup(ref: str, *, by_last_part: bool = False) -> list[Entry]:
    """Registry (non-library) entries named ``ref``: ``SOURCE/NAME`` or a ``NAME`` only one source has.
    With ``by_last_part``, entries whose last name part is ``ref``."""
    ref = ref.strip().strip("/")
    sts = states(include_library=False)
    if by_last_part:
        return [e for s in sts for e in s.entries if e.name.rsplit("/", 1)[-1] == ref]
    if "/" in ref:
        first, rest = ref.split("/", 1)
        for s in sts:
            if s.name == first:
                hits = [e for e in s.entries if e.name == rest]
                if hits:
                    return hits
    return [e for s in sts for e in s.entries if e.name == ref]
