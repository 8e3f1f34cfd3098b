"""pctl.ui.safe_text: text from clusters and remotes never reaches a terminal with escape sequences or
control characters (cursor moves, screen clears, window titles, OSC 8 hyperlinks, OSC 52 clipboard)."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pctl.ui import json_terminal_safe, safe_data, safe_text

CASES = {
    "plain text": "plain text",
    "tab\tand\nnewline": "tab\tand\nnewline",
    "clear\x1b[2J\x1b[Hscreen": "clearscreen",
    "red \x1b[31mtext\x1b[0m": "red text",
    "title\x1b]0;pwned\x07": "title",
    "title-st\x1b]2;pwned\x1b\\": "title-st",
    "link \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\": "link click",
    "clip\x1b]52;c;cm0gLXJmIH4=\x07": "clip",
    "dcs\x1bPq#0;2;0;0;0#1~~\x1b\\end": "dcsend",
    "apc\x1b_payload\x1b\\end": "apcend",
    "reset\x1bc now": "reset now",
    "charset\x1b(0x": "charsetx",
    "save\x1b7 restore\x1b8": "save restore",
    "c1 csi \x9b31m red": "c1 csi  red",
    "c1 osc \x9d0;pwned\x9c done": "c1 osc  done",
    "nul\x00bel\x07bs\x08del\x7f": "nulbelbsdel",
    "cr\roverwrite": "croverwrite",
    "crlf\r\nline": "crlf\nline",
    "bidi \u202eevil\u202c \u2066x\u2069": "bidi evil x",
    "unterminated csi \x1b[12;": "unterminated csi ",
    "lone esc \x1b": "lone esc ",
    "ünïcödé ✓ — ok": "ünïcödé ✓ — ok",
}


@pytest.mark.parametrize("raw,clean", CASES.items())
def test_safe_text(raw, clean):
    assert safe_text(raw) == clean


def test_single_line_joins_lines():
    assert safe_text("a\nb\tc\r\nd\u2028e", single_line=True) == "a b c d e"


def test_non_strings():
    assert safe_text(None) == "" and safe_text(42) == "42"


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x30FF), max_size=80))
def test_nothing_unsafe_survives(text):
    out = safe_text(text)
    assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in out)
    assert "\u202e" not in out
    assert "\n" not in safe_text(text, single_line=True)


def test_safe_data_walks_dicts_and_lists():
    assert safe_data({"a\x1b[1m": ["x\x07", {"y": "\x9b2Jz"}], "n": 1, "t": ("\x1bc",)}) == \
        {"a": ["x", {"y": "z"}], "n": 1, "t": ("",)}


def test_json_output_keeps_the_data_but_no_raw_control_character():
    data = {"s": "a\x1b[2Jb\x9b31m\x7f\u202ec"}
    text = json_terminal_safe(json.dumps(data, ensure_ascii=False))
    assert all(0x20 <= ord(c) < 0x7F or c == "\n" or ord(c) > 0x9F and c != "\u202e" for c in text)
    assert json.loads(text) == data


def test_tables_on_a_terminal_show_markup_as_text(monkeypatch, capsys):
    from pctl.ui.table import print_table

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    print_table(["NAME", "TEMPLATE"], [["c1", "[link=https://evil.example]x[/link] [bold red]y\x1b]0;t\x07"]])
    out = capsys.readouterr().out
    assert "[link=https://evil.example]x[/link]" in out and "[bold red]y" in out
    assert "\x1b]" not in out and "\x07" not in out


def test_errors_and_warnings_are_filtered(capsys):
    from pctl.cli.common import err, warn

    err("git fetch failed: \x1b]0;pwned\x07remote says hi", "hint \x1b[2J")
    warn("ssh: \x9b31mhello")
    out = capsys.readouterr().err
    assert "remote says hi" in out and "hello" in out
    assert not any(c in out for c in "\x07\x9b\x9d") and "\x1b]" not in out and "\x1b[2J" not in out
