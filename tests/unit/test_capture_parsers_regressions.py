"""Regressions in the capture parsers found while building capture/analyze (each with its input)."""

from __future__ import annotations

from pctl.capture.parsers.modules import parse_listing


def test_directory_entry_after_a_truncated_spider_line_is_not_a_module():
    # found by tests/unit/capture/test_capture_fuzz.py: "gcc/" became a module named "gcc/"
    listing = parse_listing("  gcc: gcc/1, gcc/2, ...\ngcc/")
    assert [m.full_name for m in listing.modules] == ["gcc/1", "gcc/2"]
    assert all(not m.full_name.endswith("/") for m in listing.modules)


def test_spider_continuation_with_directory_entries():
    listing = parse_listing("  gcc: gcc/1,\n    gcc/2, gcc/\n")
    assert [m.full_name for m in listing.modules] == ["gcc/1", "gcc/2"]
