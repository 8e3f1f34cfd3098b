"""Ranked search over registry entries: name, tags, title, description and Spack package names.

Every word of the query must match somewhere in an entry; an entry's score is the sum of its best
match per word (an exact name part or tag counts most, a word of the description least).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pctl.registry.store import Entry

_WORD = re.compile(r"[a-z0-9][a-z0-9+.]*")


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: int


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _score_term(term: str, e: Entry) -> int:
    name = e.name.lower()
    parts = name.split("/")
    pieces = set(re.split(r"[/_.-]", name))
    best = 0
    if parts[-1] == term or name == term:
        best = 100
    elif term in parts:
        best = 80
    elif term in pieces:
        best = 60
    elif term in name:
        best = 35
    tags = [t.lower() for t in e.tags]
    if term in tags:
        best = max(best, 70)
    elif any(term in t for t in tags):
        best = max(best, 25)
    pkgs = [p.lower() for p in e.packages]
    if term in pkgs:
        best = max(best, 65)
    elif any(term in p.split("-") for p in pkgs):
        best = max(best, 30)
    elif any(term in p for p in pkgs):
        best = max(best, 15)
    title = e.title.lower()
    if term in _words(title):
        best = max(best, 45)
    elif term in title:
        best = max(best, 20)
    desc = e.description.lower()
    if term in _words(desc):
        best = max(best, 12)
    elif len(term) >= 3 and term in desc:
        best = max(best, 6)
    if e.source.lower() == term:
        best = max(best, 10)
    return best


def search(entries: list[Entry], query: str = "", *, tags: tuple[str, ...] = ()) -> list[Hit]:
    terms = [t for t in re.split(r"\s+", query.lower().strip()) if t]
    want_tags = {t.lower() for t in tags}
    hits = []
    for order, e in enumerate(entries):
        if want_tags and not want_tags <= {t.lower() for t in e.tags}:
            continue
        total = 0
        for term in terms:
            s = _score_term(term, e)
            if s == 0:
                total = -1
                break
            total += s
        if total < 0:
            continue
        hits.append((-(total), order, Hit(e, total)))
    hits.sort(key=lambda x: (x[0], x[1]))
    return [h for _, _, h in hits]
