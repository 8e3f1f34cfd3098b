"""Spack version semantics (standard library only).

This mirrors the ordering and matching rules of Spack's ``spack.version`` package
(Spack v1.x) closely enough to decide, offline, whether a version constraint written in a
spec can be satisfied by a package's declared versions.

Ordering
    A version is split into components: runs of digits (compared numerically) and runs of
    letters. Separators (``.``, ``-``, ``_``) do not matter for comparison, so ``1.2``,
    ``1-2`` and ``1_2`` are equal. Letter components sort *below* numbers
    (``1.2a < 1.2.0``), except the "infinity" names ``stable < nightly < trunk < head <
    master < main < develop``, which sort above every number: ``develop`` is newer than any
    numeric release. A trailing ``alpha``/``beta``/``rc`` (optionally numbered) marks a
    pre-release: ``1.0rc1 < 1.0``. A shorter version is older than a longer one with the same
    prefix: ``1.2 < 1.2.0 < 1.2.1``.

Constraints (the text after ``@`` in a spec)
    ``1.2``       the range ``1.2:1.2``; matches 1.2 and every version that has 1.2 as a
                  prefix (1.2.5, 1.2.0.84-11.8) but not 1.20, nor the pre-release 1.2rc1
                  (which is older than 1.2).
    ``=1.2``      exactly version 1.2 (also matches ``1-2``/``1_2``, which are equal).
    ``1.2:1.4``   inclusive range; the upper bound has prefix semantics, so 1.4.7 matches.
    ``1.2:``      1.2 or newer (including develop/main); ``:1.4`` anything up to 1.4.x;
                  ``:`` anything.
    ``a,b:c``     a comma-separated list of any of the above (union).
    ``git.REF[=V]`` / 40-hex commit ``[=V]``: git versions. These are accepted by Spack for
                  any package that has a git repository; they cannot be checked against the
                  declared versions, so they are treated as satisfiable.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

__all__ = [
    "INFINITY_VERSIONS",
    "Version",
    "VersionConstraint",
    "VersionError",
    "matching_versions",
    "parse_constraint",
    "parse_version",
    "satisfiable",
    "sort_versions",
]

#: Infinity-like version names, in increasing order (``develop`` is the newest).
INFINITY_VERSIONS: tuple[str, ...] = (
    "stable",
    "nightly",
    "trunk",
    "head",
    "master",
    "main",
    "develop",
)
_INFINITY_INDEX = {name: i for i, name in enumerate(INFINITY_VERSIONS)}

_ALPHA, _BETA, _RC, _FINAL = 0, 1, 2, 3
_PRERELEASE = {"alpha": _ALPHA, "beta": _BETA, "rc": _RC, "final": _FINAL}
_PRERELEASE_NAMES = {_ALPHA: "alpha", _BETA: "beta", _RC: "rc"}

# Component sort keys: (kind, value). kind 0 = plain letters, 1 = number, 2 = infinity name.
# Using a tag first means Python never compares an int with a str.
_STR, _NUM, _INF = 0, 1, 2

_SEGMENT = re.compile(r"(?:(?P<num>[0-9]+)|(?P<str>[a-zA-Z]+))(?P<sep>[_.-]*)")
#: One version as Spack accepts it inside a spec: starts and ends with a word character.
_VERSION_TEXT = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\Z")
_GIT_HASH = re.compile(r"[A-Fa-f0-9]{40}\Z")
_GIT_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\Z")


class VersionError(ValueError):
    """An invalid version or version constraint.

    ``offset`` is the 0-based position of the problem inside the text that was parsed.
    """

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


Key = tuple  # (release components, prerelease tuple)


def _key_of(text: str) -> Key:
    segments = _SEGMENT.findall(text)
    if len(segments) >= 3 and segments[-2][1] in _PRERELEASE and segments[-1][0]:
        pre: tuple[int, ...] = (_PRERELEASE[segments[-2][1]], int(segments[-1][0]))
        segments = segments[:-2]
    elif len(segments) >= 2 and segments[-1][1] in _PRERELEASE:
        pre = (_PRERELEASE[segments[-1][1]],)
        segments = segments[:-1]
    else:
        pre = (_FINAL,)
    release = []
    for num, word, _sep in segments:
        if num:
            release.append((_NUM, int(num)))
        elif word in _INFINITY_INDEX:
            release.append((_INF, _INFINITY_INDEX[word]))
        else:
            release.append((_STR, word))
    return (tuple(release), pre)


class Version:
    """One concrete version, e.g. ``1.2.3``, ``8.7.0.84-11.8``, ``develop``, ``2024.1``.

    Instances are totally ordered the way Spack orders versions and are hashable.
    ``str(v)`` is the original text.
    """

    __slots__ = ("string", "key")

    def __init__(self, string: str, *, _key: Key | None = None):
        self.string = string
        if _key is None:
            if not _VERSION_TEXT.match(string):
                raise VersionError(_bad_version_message(string), _bad_version_offset(string))
            _key = _key_of(string)
        self.key = _key

    # -- properties -------------------------------------------------------------------
    @property
    def is_develop(self) -> bool:
        """True for develop-like versions (any component is develop/main/master/...)."""
        return any(kind == _INF for kind, _ in self.key[0])

    @property
    def is_prerelease(self) -> bool:
        return self.key[1][0] != _FINAL

    # -- comparisons ------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __str__(self) -> str:
        return self.string

    def __repr__(self) -> str:
        return f"Version({self.string!r})"


def _bad_version_offset(text: str) -> int:
    for i, ch in enumerate(text):
        if not (ch.isascii() and (ch.isalnum() or ch in "_.-")):
            return i
    if text and text[0] in ".-":
        return 0
    return max(len(text) - 1, 0)


def _bad_version_message(text: str) -> str:
    if not text:
        return "empty version"
    for ch in text:
        if not (ch.isascii() and (ch.isalnum() or ch in "_.-")):
            return f"invalid character {ch!r} in version {text!r}"
    if text[0] in ".-":
        return f"version {text!r} must start with a letter or digit"
    return f"version {text!r} must end with a letter or digit"


def parse_version(text: str) -> Version:
    """Parse one concrete version. Raises :class:`VersionError`."""
    return Version(text)


# -- range helpers ----------------------------------------------------------------------
_TYPEMIN_KEY: Key = ((), (_ALPHA,))
_TYPEMAX_KEY: Key = (((_INF, len(INFINITY_VERSIONS)),), (_FINAL,))


def _next_str(s: str) -> str:
    if not s or s[-1] == "z":
        return s + "A"
    return s[:-1] + ("a" if s[-1] == "Z" else chr(ord(s[-1]) + 1))


def _next_key(key: Key) -> Key:
    """The smallest version key greater than every version having ``key`` as prefix.

    This is Spack's ``_next_version``: a range ``lo:hi`` is the half-open interval
    ``[lo, next(hi))``, which is what gives upper bounds their prefix semantics.
    """
    release, pre = key
    if pre[0] != _FINAL:
        return (release, (pre[0], pre[1] + 1 if len(pre) > 1 else 0))
    if not release:
        return (((_STR, "A"),), pre)
    kind, value = release[-1]
    if kind == _NUM:
        last = (_NUM, value + 1)
    elif kind == _INF:
        last = (_INF, value + 1)
    else:
        nxt = _next_str(value)
        while nxt in _INFINITY_INDEX:
            nxt = _next_str(nxt)
        last = (_STR, nxt)
    return (release[:-1] + (last,), pre)


class _Range:
    __slots__ = ("lo", "hi", "text")

    def __init__(self, lo: Key, hi: Key, text: str):
        self.lo = lo  # inclusive
        self.hi = hi  # exclusive
        self.text = text

    def contains(self, v: Version) -> bool:
        return self.lo <= v.key < self.hi


class _Exact:
    __slots__ = ("version", "text")

    def __init__(self, version: Version, text: str):
        self.version = version
        self.text = text

    def contains(self, v: Version) -> bool:
        return v.key == self.version.key


class _Git:
    __slots__ = ("ref", "assigned", "text")

    def __init__(self, ref: str, assigned: str | None, text: str):
        self.ref = ref
        self.assigned = assigned
        self.text = text

    def contains(self, v: Version) -> bool:  # pragma: no cover - never asked directly
        return False


class VersionConstraint:
    """A parsed version constraint (the part after ``@``).

    ``str()`` gives the normalised text (whitespace removed). ``contains(v)`` tells whether a
    concrete :class:`Version` satisfies the constraint.
    """

    __slots__ = ("elements", "text")

    def __init__(self, elements: list, text: str):
        self.elements = elements
        self.text = text

    @property
    def is_git(self) -> bool:
        """True when any element is a git version (which cannot be checked offline)."""
        return any(isinstance(e, _Git) for e in self.elements)

    @property
    def is_exact(self) -> bool:
        return len(self.elements) == 1 and isinstance(self.elements[0], _Exact)

    def contains(self, version: Version | str) -> bool:
        if isinstance(version, str):
            version = Version(version)
        return any(e.contains(version) for e in self.elements)

    def __contains__(self, version: Version | str) -> bool:
        return self.contains(version)

    def lower_bound(self) -> Version | None:
        """The first concrete bound named in the constraint (used to rank suggestions)."""
        for e in self.elements:
            if isinstance(e, _Exact):
                return e.version
            if isinstance(e, _Range):
                text = e.text.split(":")[0] or e.text.split(":")[-1]
                if text:
                    return Version(text)
        return None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"VersionConstraint({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionConstraint) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)


def _parse_single(text: str, offset: int) -> Version:
    if not text:
        raise VersionError("empty version", offset)
    if not _VERSION_TEXT.match(text):
        raise VersionError(_bad_version_message(text), offset + _bad_version_offset(text))
    return Version(text)


def _parse_element(text: str, offset: int):
    if not text:
        raise VersionError("empty element in version list", offset)
    # git versions: git.REF, git.REF=V, <40 hex>, <40 hex>=V
    if text.startswith("git.") or _GIT_HASH.match(text.split("=", 1)[0]):
        ref, _, assigned = text.partition("=")
        has_prefix = ref.startswith("git.")
        bare = ref[4:] if has_prefix else ref
        if not bare or not _GIT_REF.match(bare):
            raise VersionError(f"invalid git reference {ref!r}", offset)
        if "=" in text and not assigned:
            raise VersionError(
                f"version expected after '=' in {text!r}", offset + len(text)
            )
        if assigned:
            inner_offset = offset + len(ref) + 1
            if ":" in assigned:
                _parse_range(assigned, inner_offset)
            else:
                _parse_single(assigned, inner_offset)
        return _Git(ref, assigned or None, text)
    if text.startswith("="):
        body = text[1:]
        if not body:
            raise VersionError("version expected after '='", offset + 1)
        if "=" in body or ":" in body:
            raise VersionError(
                f"'=' (exact version) cannot be combined with a range: {text!r}", offset
            )
        return _Exact(_parse_single(body, offset + 1), text)
    if "=" in text:
        pos = text.index("=")
        raise VersionError(
            f"unexpected '=' inside version {text!r} ('=' may only start an exact version, "
            "as in '@=1.2')",
            offset + pos,
        )
    if ":" in text:
        return _parse_range(text, offset)
    v = _parse_single(text, offset)
    return _Range(v.key, _next_key(v.key), text)


def _parse_range(text: str, offset: int) -> _Range:
    if text.count(":") > 1:
        second = text.index(":", text.index(":") + 1)
        raise VersionError(f"too many ':' in version range {text!r}", offset + second)
    lo_text, hi_text = text.split(":")
    lo = _parse_single(lo_text, offset).key if lo_text else _TYPEMIN_KEY
    hi_version = _parse_single(hi_text, offset + len(lo_text) + 1) if hi_text else None
    hi = _next_key(hi_version.key) if hi_version else _next_key(_TYPEMAX_KEY)
    if hi <= lo:
        raise VersionError(
            f"empty version range {text!r}: the lower bound {lo_text} is newer than the "
            f"upper bound {hi_text}",
            offset,
        )
    return _Range(lo, hi, text)


def parse_constraint(text: str) -> VersionConstraint:
    """Parse a version constraint such as ``1.2``, ``=1.2``, ``1.2:1.4``, ``:1.4,2.0:``.

    A leading ``@`` is accepted and ignored. Whitespace is removed. Raises
    :class:`VersionError` with ``offset`` pointing into ``text``.
    """
    start = 0
    if text.startswith("@"):
        start = 1
    body = text[start:]
    # Map positions in the whitespace-free text back to the original text.
    positions = [start + i for i, ch in enumerate(body) if not ch.isspace()]
    compact = "".join(ch for ch in body if not ch.isspace())
    if not compact:
        raise VersionError("empty version constraint", start)

    def original(pos: int) -> int:
        if pos < len(positions):
            return positions[pos]
        return (positions[-1] + 1) if positions else start

    elements = []
    pos = 0
    for part in compact.split(","):
        try:
            elements.append(_parse_element(part, pos))
        except VersionError as exc:
            raise VersionError(exc.message, original(exc.offset)) from None
        pos += len(part) + 1
    return VersionConstraint(elements, compact)


def _parse_declared(versions: Iterable[str]) -> list[tuple[str, Version]]:
    out = []
    for text in versions:
        try:
            out.append((text, Version(str(text))))
        except VersionError:
            continue  # a malformed declared version can never match
    return out


def matching_versions(constraint_text: str, declared_versions: Sequence[str]) -> list[str]:
    """The declared versions that satisfy the constraint, in their declared order.

    For git versions (``git.REF``) every declared version is returned, since the constraint
    cannot be checked offline. Raises :class:`VersionError` for an invalid constraint.
    """
    constraint = parse_constraint(constraint_text)
    declared = _parse_declared(declared_versions)
    if constraint.is_git:
        return [text for text, _ in declared]
    return [text for text, v in declared if constraint.contains(v)]


def satisfiable(constraint_text: str, declared_versions: Sequence[str]) -> bool:
    """Whether at least one declared version satisfies the constraint.

    Git versions (``@git.main=1.2``, ``@<commit>``) are always considered satisfiable.
    Raises :class:`VersionError` for an invalid constraint.
    """
    constraint = parse_constraint(constraint_text)
    if constraint.is_git:
        return True
    return any(constraint.contains(v) for _, v in _parse_declared(declared_versions))


def sort_versions(versions: Iterable[str], *, newest_first: bool = True) -> list[str]:
    """Sort version strings in Spack order; unparseable strings are dropped."""
    parsed = _parse_declared(versions)
    parsed.sort(key=lambda item: item[1].key, reverse=newest_first)
    return [text for text, _ in parsed]


def constraint_within(inner: str, outer: str) -> bool:
    """Every version ``inner`` allows is one ``outer`` allows (``1.21`` within ``1.2:``; ``1.21``
    not within ``1.21.1``). Git versions are never within anything but themselves."""
    if inner == outer:
        return True
    a, b = parse_constraint(inner), parse_constraint(outer)
    if a.is_git or b.is_git:
        return False

    def covered(e) -> bool:
        for o in b.elements:
            if isinstance(e, _Exact):
                if o.contains(e.version):
                    return True
            elif isinstance(o, _Range) and o.lo <= e.lo and e.hi <= o.hi:
                return True
        return False

    return all(covered(e) for e in a.elements)
