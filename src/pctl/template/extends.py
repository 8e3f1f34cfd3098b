"""Template inheritance: ``extends:`` and ``remove:``.

A template may name one parent or a list of parents::

    extends: lab-standard                 # a name: a sibling lab-standard.yaml, the library or a registry
    extends: ../lab-standard.yaml         # a path, relative to the extending file's folder
    extends: [lab-standard, team/gpu-queues]

Names go through the resolver (a sibling ``NAME.yaml`` next to the extending file first, then the
bundled library, then the cached registry sources: the caller's :mod:`finder <pctl.template.finder>`). A template that comes from the library or a
registry may only reach files inside its own source by path (names still work).

Merge rules (the parents are merged left to right, then the child on top; the child wins):

* **maps merge deeply**: a key the child sets replaces the parent's value; keys only the parent
  sets are kept (``cluster.tags`` gains the child's tags, ``cluster.region`` is the child's if set);
* **keyed lists append and de-duplicate**; an item of the child with the same key as an inherited
  item replaces it in place, other items are appended after the inherited ones:

  - ``software.spack_packages`` by Spack package name (``gatk@4.6`` replaces ``gatk@4.5.0.0``);
  - ``users`` and ``groups`` by ``name`` (the whole user or group is replaced);
  - ``data.s3_mounts`` and ``data.shared_storage`` by ``mount_point``;
  - ``compute.queues`` by ``name``, but a queue of the same name is *merged* field by field (the
    child's ``max_count`` overrides, the parent's ``instance_types`` stay unless the child sets them);

* **every other list** (``instance_types``, ``mirrors``, a user's ``groups`` or ``ssh_public_keys``)
  is replaced by the child's list;
* ``metadata:`` (title, description, tags, version, author) is **not** inherited: it describes one
  template, and a project template must not show up in a search under its parent's title;
* ``remove:`` drops inherited items before the child's own values are merged::

      remove:
        software: {spack_packages: [gatk]}      # Spack package names
        users: [bob]                            # user names (groups: group names)
        compute: {queues: [gpu]}                # queue names
        data: {s3_mounts: [/data/x], shared_storage: [/scratch]}   # mount points
        cluster: {tags: [project]}              # in a map: the keys to drop
        networking: [ssh_allowed_cidr]

  Removing something that is not inherited is a warning (the result is what was asked for).

``extends`` chains may be at most :data:`MAX_DEPTH` levels deep; a cycle or a missing parent is an
error that names the chain (``a.yaml -> b.yaml -> a.yaml``). Every merged value keeps the file,
line and column it came from, so a bad value inherited from a parent is reported in the parent file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pctl.template.diagnostics import Diagnostic, error, format_path, warning
from pctl.template.load import LoadedTemplate, LoadFailed, Positions

MAX_DEPTH = 10  # extends hops
MAX_FILES = 64  # distinct files in one resolution
NOT_INHERITED = ("metadata",)

Loc = tuple  # (file, line, col)


class ExtendsFailed(Exception):
    """Resolution could not produce a merged template; ``diagnostics`` says why (with positions)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


@dataclass
class Provenance:
    """(path tuple) -> (file, line, col) for values and keys of the merged data."""

    values: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)

    def lookup(self, path: tuple, *, key: bool = False) -> Loc:
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
            if not path:
                return (None, None, None)
            path = path[:-1]


@dataclass
class MergedTemplate(LoadedTemplate):
    """A template with its parents merged in. ``source`` is the child's name; ``chain`` every file used."""

    provenance: Provenance = field(default_factory=Provenance)
    chain: list = field(default_factory=list)  # display names: child first, then parents depth-first
    diagnostics: list = field(default_factory=list)  # warnings/errors found while merging (located)

    def locate(self, diag: Diagnostic, *, key: bool = False) -> Diagnostic:
        from dataclasses import replace

        if diag.file is not None and diag.line is not None:
            return diag
        f, line, col = self.provenance.lookup(diag.path, key=key or diag.code == "unknown-key")
        return replace(diag, file=diag.file or f or self.source, line=line, column=col)


# ---------------------------------------------------------------- annotated trees


class _N:
    """A value with where it came from: ``v`` is dict[str, _N] | list[_N] | scalar."""

    __slots__ = ("v", "loc", "kloc")

    def __init__(self, v, loc: Loc, kloc: Loc | None = None):
        self.v = v
        self.loc = loc
        self.kloc = kloc

    def plain(self):
        if isinstance(self.v, dict):
            return {k: n.plain() for k, n in self.v.items()}
        if isinstance(self.v, list):
            return [n.plain() for n in self.v]
        return self.v


def _annotate(loaded: LoadedTemplate) -> _N:
    pos, src = loaded.positions, loaded.source

    def walk(value, path):
        lc = pos.values.get(path) or pos.lookup(path)
        k = pos.keys.get(path)
        loc = (src, lc[0], lc[1])
        kloc = (src, k[0], k[1]) if k else None
        if isinstance(value, dict):
            return _N({key: walk(v, path + (key,)) for key, v in value.items()}, loc, kloc)
        if isinstance(value, list):
            return _N([walk(v, path + (i,)) for i, v in enumerate(value)], loc, kloc)
        return _N(value, loc, kloc)

    return walk(loaded.data, ())


def _flatten(node: _N, prov: Provenance, path: tuple = ()):
    prov.values[path] = node.loc
    if node.kloc is not None:
        prov.keys[path] = node.kloc
    if isinstance(node.v, dict):
        return {k: _flatten(n, prov, path + (k,)) for k, n in node.v.items()}
    if isinstance(node.v, list):
        return [_flatten(n, prov, path + (i,)) for i, n in enumerate(node.v)]
    return node.v


# ---------------------------------------------------------------- merge rules


def _spack_key(value) -> str | None:
    if not isinstance(value, str):
        return None
    from pctl.spack.spec import SpecSyntaxError, parse_spec

    try:
        return parse_spec(value).name or None
    except SpecSyntaxError:
        return None


def _name_key(value) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("name"), _N) and isinstance(value["name"].v, str):
        return value["name"].v
    return None


def _mount_key(value) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("mount_point"), _N) and isinstance(value["mount_point"].v, str):
        from pctl.template.rules import normalize_mount

        return normalize_mount(value["mount_point"].v)
    return None


# path -> (key function on the item's value, merge same-key items deeply?, what a remove entry names)
LIST_RULES = {
    ("software", "spack_packages"): (_spack_key, False, "Spack package"),
    ("users",): (_name_key, False, "user"),
    ("groups",): (_name_key, False, "group"),
    ("data", "s3_mounts"): (_mount_key, False, "mount point"),
    ("data", "shared_storage"): (_mount_key, False, "mount point"),
    ("compute", "queues"): (_name_key, True, "queue"),
}


def _remove_key(path: tuple, text: str) -> str:
    """What a remove: entry means for a keyed list (a spec -> its package name, a mount -> normalized)."""
    if path == ("software", "spack_packages"):
        return _spack_key(text) or text.strip()
    if path in (("data", "s3_mounts"), ("data", "shared_storage")):
        from pctl.template.rules import normalize_mount

        return normalize_mount(text)
    return text


def _merge(base: _N, over: _N, path: tuple = ()) -> _N:
    if isinstance(base.v, dict) and isinstance(over.v, dict):
        out = dict(base.v)
        for k, n in over.v.items():
            out[k] = _merge(base.v[k], n, path + (k,)) if k in base.v else n
        return _N(out, over.loc, over.kloc or base.kloc)
    rule = LIST_RULES.get(path)
    if rule is not None and isinstance(base.v, list) and isinstance(over.v, list):
        keyfn, deep, _ = rule
        out = list(base.v)
        index: dict[str, int] = {}
        for i, n in enumerate(out):
            k = keyfn(n.v)
            if k is not None:
                index.setdefault(k, i)
        for n in over.v:
            k = keyfn(n.v)
            if k is not None and k in index:
                i = index[k]
                out[i] = _merge(out[i], n, path + (i,)) if deep else n
            else:
                out.append(n)
        return _N(out, over.loc, over.kloc or base.kloc)
    if over.kloc is None and base.kloc is not None:
        return _N(over.v, over.loc, base.kloc)
    return over


def _apply_remove(base: _N, spec: _N, diags: list[Diagnostic]) -> _N:
    """A copy of ``base`` without what ``spec`` (the child's remove: mapping) names."""

    def at(loc: Loc):
        return {"file": loc[0], "line": loc[1], "column": loc[2]}

    def walk(node: _N, s: _N, path: tuple) -> _N:
        rule = LIST_RULES.get(path)
        if rule is not None and isinstance(node.v, list):
            keyfn, _, what = rule
            if not isinstance(s.v, list):
                diags.append(error(f"must be a list of {what} names", ("remove",) + path,
                                   code="remove", **at(s.loc)))
                return node
            drop = set()
            for item in s.v:
                if not isinstance(item.v, str) or not item.v.strip():
                    diags.append(error(f"each entry must be a {what} name, got {item.v!r}",
                                       ("remove",) + path, code="remove", **at(item.loc)))
                    continue
                k = _remove_key(path, item.v)
                if not any(keyfn(n.v) == k for n in node.v):
                    diags.append(warning(f"no inherited {what} {item.v!r} to remove",
                                         ("remove",) + path, code="remove-nothing", **at(item.loc)))
                drop.add(k)
            return _N([n for n in node.v if keyfn(n.v) not in drop], node.loc, node.kloc)
        if isinstance(node.v, dict):
            if isinstance(s.v, dict):
                out = dict(node.v)
                for k, sub in s.v.items():
                    if k not in out:
                        diags.append(warning(f"nothing inherited at {format_path(path + (k,))} to remove",
                                             ("remove",) + path + (k,), code="remove-nothing", **at(sub.kloc or sub.loc)))
                        continue
                    out[k] = walk(out[k], sub, path + (k,))
                return _N(out, node.loc, node.kloc)
            if isinstance(s.v, list):
                out = dict(node.v)
                for item in s.v:
                    if not isinstance(item.v, str):
                        diags.append(error(f"each entry must be a key name, got {item.v!r}",
                                           ("remove",) + path, code="remove", **at(item.loc)))
                    elif item.v in out:
                        del out[item.v]
                    else:
                        diags.append(warning(f"nothing inherited at {format_path(path + (item.v,))} to remove",
                                             ("remove",) + path, code="remove-nothing", **at(item.loc)))
                return _N(out, node.loc, node.kloc)
        if isinstance(node.v, list):
            diags.append(error(f"{format_path(path)} is a list that cannot be filtered by name; set the list "
                               "in this template instead (it replaces the inherited one)", ("remove",) + path,
                               code="remove", **at(s.loc)))
            return node
        diags.append(error("must name keys or items to remove (a list or a mapping)",
                           ("remove",) + path, code="remove", **at(s.loc)))
        return node

    if not isinstance(spec.v, dict):
        diags.append(error("must be a mapping, e.g. remove: {software: {spack_packages: [gatk]}, users: [bob]}",
                           ("remove",), code="remove", **at(spec.loc)))
        return base
    return walk(base, spec, ())


# ---------------------------------------------------------------- resolution


def needs_resolution(loaded: LoadedTemplate) -> bool:
    return isinstance(loaded.data, dict) and ("extends" in loaded.data or "remove" in loaded.data)


def _find_parent(value: str, loaded: LoadedTemplate, finder) -> tuple[Path, str]:
    """(file, display) of a parent named by ``value`` in ``loaded``. Raises LookupError(message, hint)."""
    from pctl.errors import TemplateNotFound

    v = value.strip()
    base_dir = loaded.path.parent if loaded.path is not None else Path.cwd()
    jail = finder.root_of(loaded.path) if loaded.path is not None else None

    def inside(p: Path) -> bool:
        if jail is None:
            return True
        try:
            p.resolve().relative_to(jail.resolve())
            return True
        except (ValueError, OSError):
            return False

    if v.endswith((".yaml", ".yml")) or v.startswith((".", "/", "~")):
        p = Path(v).expanduser()
        p = p if p.is_absolute() else base_dir / p
        if not inside(p):
            raise LookupError(f"parent {v!r} is outside this template's source ({finder.display(jail)}); a library or "
                              "registry template may only extend files of its own source, or names", None)
        if p.is_file():
            return p, finder.display(p)
        raise LookupError(f"parent template {v!r} not found (no file {p})",
                          "paths in extends: are relative to the extending file's folder")
    for ext in (".yaml", ".yml"):
        cand = base_dir / (v + ext)
        if cand.is_file() and inside(cand):
            return cand, finder.display(cand)
    try:
        return finder.find_name(v)
    except TemplateNotFound as exc:
        if "ambiguous" in exc.message:
            raise LookupError(f"parent {exc.message}", exc.hint) from None
        raise LookupError(f"parent template {v!r} not found: no {v}.yaml next to {loaded.source}, and no "
                          "library or registry template of that name", exc.hint) from None


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:  # pragma: no cover
        return str(path.absolute())


def resolve_extends(loaded: LoadedTemplate, *, max_depth: int = MAX_DEPTH, finder=None) -> LoadedTemplate:
    """Merge the parents of ``loaded`` (see the module docstring). Returns ``loaded`` itself when it
    has no ``extends``/``remove``; otherwise a :class:`MergedTemplate`. Raises :class:`ExtendsFailed`
    for cycles, missing or unreadable parents and a malformed ``extends``.

    ``finder`` turns parent *names* into files (:mod:`pctl.template.finder`); the default knows the
    bundled library only, :data:`pctl.registry.names.FINDER` knows registry sources too."""
    if not needs_resolution(loaded):
        return loaded
    if finder is None:
        from pctl.template.finder import DEFAULT as finder
    diags: list[Diagnostic] = []
    memo: dict[str, _N] = {}
    chain_files: list[str] = [loaded.source]
    root_key = _key(loaded.path) if loaded.path is not None else f"<{loaded.source}>"

    def fail(msg, loc: Loc, hint=None, path=("extends",)):
        raise ExtendsFailed([error(msg, path, code="extends", hint=hint, file=loc[0], line=loc[1], column=loc[2])])

    def build(lt: LoadedTemplate, chain: list[tuple[str, str]]) -> _N:
        node = _annotate(lt)
        ext = node.v.get("extends")
        rem = node.v.get("remove")
        own = _N({k: n for k, n in node.v.items() if k not in ("extends", "remove")}, node.loc, node.kloc)
        parents: list[_N] = []
        if ext is not None:
            if isinstance(ext.v, str) and ext.v.strip():
                parents = [ext]
            elif isinstance(ext.v, list) and ext.v and all(isinstance(x.v, str) and x.v.strip() for x in ext.v):
                parents = list(ext.v)
            else:
                fail("must be a template name or path, or a list of them", ext.loc,
                     "e.g. extends: lab-standard   or   extends: [../base.yaml, team/gpu]")
        if rem is not None and not parents:
            fail("needs extends: (remove: drops items inherited from a parent)", rem.kloc or rem.loc, path=("remove",))
        if not parents:
            return own
        base: _N | None = None
        for p in parents:
            try:
                ppath, pdisplay = _find_parent(p.v, lt, finder)
            except LookupError as exc:
                msg, hint = exc.args
                via = " -> ".join([d for _, d in chain] + [p.v.strip()])
                fail(f"{msg} (extends chain: {via})", p.loc, hint)
            key = _key(ppath)
            if key in [k for k, _ in chain]:
                names = [d for _, d in chain] + [pdisplay]
                start = [k for k, _ in chain].index(key)
                fail("inheritance cycle: " + " -> ".join(names[start:]), p.loc,
                     "a template cannot extend itself, directly or through its parents")
            if len(chain) > max_depth:
                fail(f"extends chain is deeper than {max_depth} levels: " + " -> ".join([d for _, d in chain] + [pdisplay]),
                     p.loc)
            if key in memo:
                pnode = memo[key]
            else:
                if len(memo) >= MAX_FILES:
                    fail(f"extends reaches more than {MAX_FILES} templates", p.loc)
                from pctl.template.load import load_file

                try:
                    parent = load_file(ppath, pdisplay)
                except LoadFailed as exc:
                    d = exc.diagnostic
                    from dataclasses import replace

                    via = " -> ".join([d_ for _, d_ in chain] + [pdisplay])
                    raise ExtendsFailed([replace(d, hint=(d.hint + "; " if d.hint else "") + f"loaded through extends: {via}")]) from None
                if pdisplay not in chain_files:
                    chain_files.append(pdisplay)
                pnode = build(parent, chain + [(key, pdisplay)])
                pnode = _N({k: n for k, n in pnode.v.items() if k not in NOT_INHERITED}, pnode.loc, pnode.kloc)
                memo[key] = pnode
            base = pnode if base is None else _merge(base, pnode)
        if rem is not None:
            base = _apply_remove(base, rem, diags)
        return _merge(base, own)

    merged = build(loaded, [(root_key, loaded.source)])
    prov = Provenance()
    data = _flatten(merged, prov)
    positions = Positions(values={p: (l[1], l[2]) for p, l in prov.values.items()},
                          keys={p: (l[1], l[2]) for p, l in prov.keys.items()})
    return MergedTemplate(data=data, positions=positions, source=loaded.source, text=loaded.text, path=loaded.path,
                          provenance=prov, chain=chain_files, diagnostics=diags)


def resolve_file(path: Path, source: str | None = None, *, finder=None) -> LoadedTemplate:
    """Load a file and resolve its extends (raises LoadFailed / ExtendsFailed)."""
    from pctl.template.load import load_file

    return resolve_extends(load_file(path, source), finder=finder)


def dump_yaml(data: dict, header: str | None = None) -> str:
    """The (merged) template as block-style YAML, keys in template order."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.allow_unicode = True
    yaml.width = 100
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    if header:
        text = "".join(f"# {ln}\n" if ln else "#\n" for ln in header.splitlines()) + text
    return text
