"""A strict parser for the Spack spec syntax a user writes in ``spack.yaml``.

Supported (Spack v1.x semantics)::

    name[@versions] [+v] [~v] [-v] [++v] [~~v] [--v] [key=value] [key==value]
        [%[virtuals=]compiler[@versions] [compiler options]] [^dependency ...]

* ``name``: ``[a-z0-9][a-z0-9_-]*`` (Spack package names are lowercase).
* ``@``: a version constraint (see :mod:`pctl.spack.version`): ``@1.2``, ``@=1.2``,
  ``@1.2:1.4``, ``@1.2:``, ``@:1.4``, ``@1.2,1.5:1.6``, ``@git.REF=1.2``.
* ``+v`` / ``~v`` / ``-v``: boolean variants (``-v`` only at the start of a token, since
  ``-`` is part of names). ``++v``, ``~~v``, ``--v`` propagate to dependencies.
* ``key=value`` / ``key==value`` (propagated) / ``key:=value``: valued variants, compiler
  flags (``cflags`` ...), architecture (``target``, ``os``, ``platform``, ``arch``). Values may
  be comma lists (``fabrics=ofi,ucx``) or quoted (``cflags="-O3 -g"``). ``key=true`` /
  ``key=false`` are boolean variants, exactly like ``+key`` / ``~key``.
* ``%compiler[@v]``: in Spack 1.x a ``%`` starts a direct-dependency node, so options written
  *after* ``%gcc`` (``%gcc@12 +strip``) belong to the compiler, not to the package.
  ``%c,cxx=gcc`` (virtual assignment) is accepted. Edge attributes (``%[virtuals=c] gcc``,
  ``^[deptypes=build] x``) and ``%%`` are rejected as unsupported.
* ``^dependency``: a dependency with its own versions, variants and ``%compiler``. Every
  ``^`` attaches to the root (as in Spack); ``^mpi=openmpi`` assigns a virtual.

Everything else is rejected with :class:`SpecSyntaxError`: shell metacharacters
(``; | & $ ` > < * ? \\ { } ( ) ! # '`` outside a quoted value ...), newlines, NUL, non-ASCII,
namespaces, hashes (``/abc``), file names. A spec may be at most 512 characters long.

``str(spec)`` is a canonical form (variants and dependencies sorted, single spaces) suitable
for fingerprints, and ``parse_spec(str(s)) == s``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from .version import VersionError, parse_constraint

__all__ = [
    "ARCH_KEYS",
    "FLAG_KEYS",
    "MAX_SPEC_LENGTH",
    "Spec",
    "SpecSyntaxError",
    "parse_spec",
]

MAX_SPEC_LENGTH = 512

#: Compiler-flag keys: stored in :attr:`Spec.flags`, never treated as variants.
FLAG_KEYS = frozenset({"cflags", "cxxflags", "fflags", "ldflags", "ldlibs", "cppflags"})
#: Architecture keys: stored in :attr:`Spec.variants` but not package variants.
ARCH_KEYS = frozenset({"target", "os", "platform", "arch"})

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_IDENT_CHARS = _IDENT_START | {"-"}
_VERSION_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:,=/"
)
_VALUE_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,:=+/-"
)
_QUOTED_CHARS = _VALUE_CHARS | {" ", "@"}
#: Every character that may appear anywhere in a spec (checked first, so hostile input is
#: always reported as "unexpected character" at its own column).
_ALLOWED = _VALUE_CHARS | frozenset(" \t~@%^'\"[]")
_WS = frozenset(" \t")
_VIRTUAL_ASSIGNMENT = re.compile(r"([a-z0-9][a-z0-9_-]*(?:,[a-z0-9][a-z0-9_-]*)*)=(?=[a-z0-9])")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_.,:=+/-]+\Z")

_CHAR_NAMES = {
    "\n": "line break",
    "\r": "carriage return",
    "\t": "tab",
    "\0": "NUL",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1b": "escape",
    "\x7f": "delete",
}


def _describe_char(ch: str) -> str:
    if ch.isascii() and ch.isprintable():
        return repr(ch) if ch != "'" else '"\'"'
    code = f"U+{ord(ch):04X}"
    if ch in _CHAR_NAMES:
        return f"{code} ({_CHAR_NAMES[ch]})"
    if not ch.isascii():
        if ch.isprintable():
            return f"{ch!r} ({code}, non-ASCII)"
        return f"{code} (non-ASCII)"
    return f"{code} (control character)"


class SpecSyntaxError(ValueError):
    """A spec that does not follow the grammar.

    Attributes:
        reason: what is wrong, e.g. ``unexpected character ';'``.
        column: 0-based index into ``text`` where the problem is.
        message: ``reason`` plus the human (1-based) column, e.g.
            ``unexpected character ';' at column 9``; this is also ``str(error)``.
        text: the spec text (may be ``None``).
    """

    def __init__(self, reason: str, column: int, text: str | None = None):
        self.reason = reason
        self.column = column
        self.text = text
        self.message = f"{reason} at column {column + 1}"
        super().__init__(reason, column, text)

    def __str__(self) -> str:
        return self.message

    def pointer(self) -> str:
        """Two lines: the spec and a caret under the offending column."""
        if self.text is None:
            return self.message
        shown = "".join(ch if ch.isascii() and ch.isprintable() else "?" for ch in self.text)
        return f"{shown}\n{' ' * self.column}^"


def _canonical_value(value: str) -> str:
    return value if _BARE_VALUE.match(value) else f"'{value}'"


@dataclass(eq=True)
class Spec:
    """One parsed spec node (the root, a ``^dependency`` or a ``%compiler``).

    Attributes:
        name: package name, or ``None`` for an anonymous spec (``+mpi``).
        version: normalised version constraint text without ``@`` (``"1.2:1.4"``), or None.
        variants: variant name -> ``True``/``False`` (boolean) or ``str`` value. Also holds
            ``target``/``os``/``platform``/``arch`` and other non-flag ``key=value`` pairs.
            Comma lists are normalised to sorted, unique values (``fabrics=ofi,ucx``).
        propagate: names of variants/flags written with ``++``/``~~``/``--``/``==``.
        flags: compiler flags (``cflags``, ``cxxflags``, ``fflags``, ``ldflags``, ``ldlibs``,
            ``cppflags``) -> value.
        compiler_spec: the ``%compiler`` node (a :class:`Spec`), or None.
        dependencies: the ``^`` nodes (only on the root), sorted by name.
        virtuals: for a ``%c,cxx=gcc`` or ``^mpi=openmpi`` node, the virtuals it provides.
    """

    name: str | None
    version: str | None = None
    variants: dict[str, bool | str] = field(default_factory=dict)
    propagate: frozenset[str] = frozenset()
    flags: dict[str, str] = field(default_factory=dict)
    compiler_spec: Spec | None = None
    dependencies: list[Spec] = field(default_factory=list)
    virtuals: tuple[str, ...] = ()

    # -- convenience -----------------------------------------------------------------------
    @property
    def compiler(self) -> str | None:
        """Compiler package name from ``%name`` (as written, e.g. ``gcc``), or None."""
        return self.compiler_spec.name if self.compiler_spec else None

    @property
    def compiler_version(self) -> str | None:
        """Compiler version constraint from ``%gcc@12`` (``"12"``), or None."""
        return self.compiler_spec.version if self.compiler_spec else None

    @property
    def target(self) -> str | None:
        value = self.variants.get("target")
        return value if isinstance(value, str) else None

    def nodes(self) -> Iterator[Spec]:
        """Root, its compiler, then each dependency followed by its compiler."""
        yield self
        if self.compiler_spec is not None:
            yield self.compiler_spec
        for dep in self.dependencies:
            yield from dep.nodes()

    def package_names(self) -> list[str]:
        """Every named package mentioned (root, dependencies, compilers), no duplicates."""
        seen: dict[str, None] = {}
        for node in self.nodes():
            if node.name:
                seen.setdefault(node.name, None)
        return list(seen)

    # -- canonical form --------------------------------------------------------------------
    def _node_str(self) -> str:
        parts: list[str] = []
        head = ""
        if self.virtuals:
            head = ",".join(self.virtuals) + "="
        head += self.name or ""
        if self.version is not None:
            head += "@" + self.version
        if head:
            parts.append(head)
        for key in sorted(self.variants):
            value = self.variants[key]
            prop = key in self.propagate
            if value is True:
                parts.append(("++" if prop else "+") + key)
            elif value is False:
                parts.append(("~~" if prop else "~") + key)
            else:
                parts.append(f"{key}{'==' if prop else '='}{_canonical_value(value)}")
        for key in sorted(self.flags):
            prop = key in self.propagate
            parts.append(f"{key}{'==' if prop else '='}{_canonical_value(self.flags[key])}")
        if self.compiler_spec is not None:
            parts.append("%" + self.compiler_spec._node_str())
        return " ".join(parts)

    def __str__(self) -> str:
        parts = [self._node_str()]
        for dep in self.dependencies:
            parts.append("^" + str(dep))
        return " ".join(p for p in parts if p)

    @classmethod
    def parse(cls, text: str, *, allow_anonymous: bool = False) -> Spec:
        return parse_spec(text, allow_anonymous=allow_anonymous)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.n = len(text)

    # -- helpers ---------------------------------------------------------------------------
    def error(self, reason: str, column: int | None = None) -> SpecSyntaxError:
        return SpecSyntaxError(reason, self.pos if column is None else column, self.text)

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < self.n else ""

    def skip_ws(self) -> None:
        while self.pos < self.n and self.text[self.pos] in _WS:
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= self.n

    def read_while(self, chars: frozenset) -> str:
        start = self.pos
        while self.pos < self.n and self.text[self.pos] in chars:
            self.pos += 1
        return self.text[start : self.pos]

    # -- grammar ---------------------------------------------------------------------------
    def parse(self, allow_anonymous: bool) -> Spec:
        self.skip_ws()
        if self.at_end():
            raise self.error("empty spec: a package name is expected", 0)
        root = Spec(name=None)
        if self.peek() not in "%^":
            root = self.node(role="root")
        if root.name is None and not allow_anonymous:
            raise self.error("package name expected", self._first_nonspace())
        current = root
        seen_deps: dict[str, int] = {}
        while True:
            self.skip_ws()
            if self.at_end():
                break
            ch = self.peek()
            sigil_at = self.pos
            if ch == "^":
                self.pos += 1
                if self.peek() == "[":
                    raise self.error(
                        "dependency edge attributes like '^[deptypes=build] pkg' are not "
                        "supported; write '^pkg'"
                    )
                dep = self.edge_node(role="dependency", sigil_at=sigil_at)
                if dep.name in seen_deps:
                    raise self.error(f"dependency '{dep.name}' is given twice", sigil_at)
                seen_deps[dep.name] = sigil_at  # type: ignore[index]
                root.dependencies.append(dep)
                current = dep
            elif ch == "%":
                self.pos += 1
                if self.peek() == "%":
                    raise self.error(
                        "'%%' (propagated compiler preference) is not supported; use '%'",
                        sigil_at,
                    )
                if self.peek() == "[":
                    raise self.error(
                        "edge attributes like '%[virtuals=c] gcc' are not supported; write "
                        "'%gcc' or '%c=gcc'"
                    )
                comp = self.edge_node(role="compiler", sigil_at=sigil_at)
                if current.compiler_spec is not None:
                    owner = current.name or "the spec"
                    raise self.error(
                        f"a second compiler '%{comp.name}' for {owner} (already "
                        f"'%{current.compiler_spec.name}')",
                        sigil_at,
                    )
                current.compiler_spec = comp
            else:  # pragma: no cover - node() stops only at ^, % or end
                raise self.unexpected()
        root.dependencies.sort(key=lambda d: d.name or "")
        return root

    def _first_nonspace(self) -> int:
        i = 0
        while i < self.n and self.text[i] in _WS:
            i += 1
        return i

    def unexpected(self, column: int | None = None) -> SpecSyntaxError:
        col = self.pos if column is None else column
        ch = self.text[col]
        reason = f"unexpected character {_describe_char(ch)}"
        if ch in "'\"":
            reason += " (quotes are only allowed around a value, as in cflags=\"-O2 -g\")"
        elif ch == "[" or ch == "]":
            reason += " (edge attributes such as '%[virtuals=c] gcc' are not supported)"
        return self.error(reason, col)

    def edge_node(self, role: str, sigil_at: int) -> Spec:
        sigil = self.text[sigil_at]
        self.skip_ws()
        if self.at_end() or self.peek() in "^%":
            what = "compiler name" if role == "compiler" else "package name"
            raise self.error(f"{what} expected after '{sigil}'", sigil_at)
        virtuals: tuple[str, ...] = ()
        # Virtual assignment: c,cxx=gcc  /  mpi=openmpi
        m = _VIRTUAL_ASSIGNMENT.match(self.text, self.pos)
        if m:
            virtuals = tuple(m.group(1).split(","))
            self.pos = m.end()
        what = "compiler name" if role == "compiler" else "package name"
        if self.peek() not in _IDENT_START:
            if self.peek() and self.peek() not in _ALLOWED:
                raise self.unexpected()
            raise self.error(f"{what} expected after '{sigil}'", sigil_at)
        node = self.node(role=role)
        if node.name is None:
            raise self.error(f"{what} expected after '{sigil}'", sigil_at)
        node.virtuals = virtuals
        return node

    def read_name(self) -> str:
        start = self.pos
        run = self.read_while(_IDENT_CHARS)
        if self.peek() == ".":
            raise self.error(
                f"namespaced names like '{run}.…' are not supported; use the plain package "
                "name"
            )
        if run != run.lower():
            raise self.error(
                f"package names are lowercase: did you mean '{run.lower()}'?", start
            )
        if run[0] not in _NAME_START:
            raise self.error(
                f"package name '{run}' must start with a lowercase letter or digit", start
            )
        return run

    def node(self, role: str) -> Spec:
        spec = Spec(name=None)
        propagate: set[str] = set()
        self.skip_ws()
        # A leading identifier that is not a key=value pair is the package name.
        if self.peek() in _IDENT_START and not self._kv_ahead():
            spec.name = self.read_name()
        version_at: int | None = None
        while True:
            self.skip_ws()
            if self.at_end():
                break
            ch = self.peek()
            if ch in "^%":
                break
            start = self.pos
            if ch == "@":
                if version_at is not None:
                    raise self.error(
                        f"a second version for {spec.name or 'the spec'} (versions are "
                        "combined with ',' as in '@1.2,1.4')",
                        start,
                    )
                version_at = start
                spec.version = self.version(start)
            elif ch in "+~-":
                name, value, prop = self.bool_variant()
                self._set_variant(spec, name, value, start)
                if prop:
                    propagate.add(name)
            elif ch in _IDENT_START:
                if not self._kv_ahead():
                    run = self.read_while(_IDENT_CHARS)
                    if spec.name is not None:
                        raise self.error(
                            f"unexpected second package name '{run}' (one spec per entry; "
                            f"use '^{run}' for a dependency)",
                            start,
                        )
                    raise self.error(
                        f"unexpected word '{run}' (expected a variant like +{run} or "
                        f"{run}=value)",
                        start,
                    )
                key, value, prop = self.key_value()
                if key in FLAG_KEYS:
                    if key in spec.flags:
                        raise self.error(f"'{key}' is given twice", start)
                    spec.flags[key] = value
                else:
                    low = value.lower()
                    if key not in ARCH_KEYS and low in ("true", "false"):
                        self._set_variant(spec, key, low == "true", start)
                    else:
                        if "," in value and " " not in value:
                            items = value.split(",")
                            if any(not item for item in items):
                                raise self.error(f"empty item in the value list of '{key}'", start)
                            value = ",".join(sorted(set(items)))
                        self._set_variant(spec, key, value, start)
                if prop:
                    propagate.add(key)
            elif ch in "'\"[]" or ch not in _ALLOWED:
                raise self.unexpected()
            elif ch == "=":
                raise self.error("variant name expected before '='")
            else:
                raise self.unexpected()
        spec.propagate = frozenset(propagate)
        return spec

    def _set_variant(self, spec: Spec, name: str, value: bool | str, column: int) -> None:
        if name in spec.variants:
            raise self.error(
                f"variant '{name}' is given twice for {spec.name or 'the spec'}", column
            )
        spec.variants[name] = value

    def _kv_ahead(self) -> bool:
        i = self.pos
        while i < self.n and self.text[i] in _IDENT_CHARS:
            i += 1
        rest = self.text[i : i + 2]
        return rest.startswith("=") or rest == ":="

    def version(self, at: int) -> str:
        self.pos += 1  # '@'
        self.skip_ws()
        start = self.pos
        while True:
            self.read_while(_VERSION_CHARS)
            # allow whitespace around commas: "@1.2, 1.4"
            save = self.pos
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                self.skip_ws()
                continue
            if self.pos > save and self.text[save - 1] == "," and self.peek() in _VERSION_CHARS:
                continue
            self.pos = save
            break
        raw = self.text[start : self.pos]
        if not raw.strip():
            if self.peek() and self.peek() not in _ALLOWED:
                raise self.unexpected()
            raise self.error("empty version after '@'", at)
        try:
            constraint = parse_constraint(raw)
        except VersionError as exc:
            raise self.error(exc.message, start + exc.offset) from None
        return str(constraint)

    def bool_variant(self) -> tuple[str, bool, bool]:
        sigil_at = self.pos
        ch = self.peek()
        prop = self.peek(1) == ch
        sigil = ch * 2 if prop else ch
        self.pos += len(sigil)
        self.skip_ws()
        if self.peek() not in _IDENT_START:
            if self.peek() and self.peek() not in _ALLOWED:
                raise self.unexpected()
            raise self.error(f"variant name expected after '{sigil}'", sigil_at)
        name = self.read_while(_IDENT_CHARS)
        if self.peek() == "=":
            raise self.error(
                f"'{sigil}{name}=' mixes a boolean and a valued variant; write '{sigil}{name}' "
                f"or '{name}=value'",
                sigil_at,
            )
        return name, ch == "+", prop

    def key_value(self) -> tuple[str, str, bool]:
        key = self.read_while(_IDENT_CHARS)
        if self.peek() == ":":
            self.pos += 1  # 'key:=value' (concrete multi-value) is treated like 'key=value'
        self.pos += 1  # '='
        prop = False
        if self.peek() == "=":
            prop = True
            self.pos += 1
        op = "==" if prop else "="
        ch = self.peek()
        if ch in ("'", '"'):
            return key, self.quoted(), prop
        value = self.read_while(_VALUE_CHARS)
        if not value:
            if ch and ch not in _ALLOWED:
                raise self.unexpected()
            raise self.error(f"value expected after '{key}{op}'")
        return key, value, prop

    def quoted(self) -> str:
        quote_at = self.pos
        quote = self.peek()
        self.pos += 1
        start = self.pos
        while True:
            if self.at_end():
                raise self.error(f"unterminated quote {quote} (opened here)", quote_at)
            ch = self.peek()
            if ch == quote:
                break
            if ch not in _QUOTED_CHARS:
                raise self.error(
                    f"character {_describe_char(ch)} is not allowed inside a quoted value"
                )
            self.pos += 1
        value = self.text[start : self.pos]
        self.pos += 1  # closing quote
        if not value.strip():
            raise self.error("empty quoted value", quote_at)
        nxt = self.peek()
        if nxt and nxt not in _WS:
            raise self.error("a quoted value must be followed by a space")
        return value.strip()


def _precheck(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"spec must be a string, not {type(text).__name__}")
    for i, ch in enumerate(text):
        if ch not in _ALLOWED:
            reason = f"unexpected character {_describe_char(ch)}"
            if ch in "\n\r":
                reason += " (a spec must be on one line)"
            raise SpecSyntaxError(reason, i, text)
    if len(text) > MAX_SPEC_LENGTH:
        raise SpecSyntaxError(
            f"spec is too long ({len(text)} characters; the limit is {MAX_SPEC_LENGTH})",
            MAX_SPEC_LENGTH,
            text,
        )


def parse_spec(text: str, *, allow_anonymous: bool = False) -> Spec:
    """Parse one spec. Raises :class:`SpecSyntaxError` (a ``ValueError``).

    ``allow_anonymous=True`` accepts specs without a package name (``+mpi``, ``@1.2``,
    ``%gcc``), as used in ``packages: all: require:``.
    """
    _precheck(text)
    return _Parser(text).parse(allow_anonymous)


def _node_within(inner: Spec, outer: Spec) -> bool:
    from pctl.spack.version import VersionError, constraint_within

    if outer.name is not None and inner.name != outer.name:
        return False
    if outer.version is not None:
        if inner.version is None:
            return False
        try:
            if not constraint_within(inner.version, outer.version):
                return False
        except VersionError:
            return False
    for key, value in outer.variants.items():
        if inner.variants.get(key) != value:
            return False
    for key, value in outer.flags.items():
        if inner.flags.get(key) != value:
            return False
    if outer.compiler_spec is not None:
        if inner.compiler_spec is None or not _node_within(inner.compiler_spec, outer.compiler_spec):
            return False
    return True


def spec_within(inner: Spec, outer: Spec) -> bool:
    """Does every installation of ``inner`` satisfy ``outer``? True when ``inner`` names the same
    package and constrains at least as much: its versions within ``outer``'s, every variant, flag,
    compiler and ``^dependency`` that ``outer`` asks for, alike. (``samtools@1.21`` is within
    ``samtools`` and ``samtools@1.2:``; ``samtools`` is not within ``samtools@1.21``.)"""
    if not _node_within(inner, outer):
        return False
    for dep in outer.dependencies:
        if not any(_node_within(d, dep) for d in inner.dependencies):
            return False
    return True
