"""Spack version ordering and constraint semantics."""

from __future__ import annotations

import pytest

from pctl.spack.version import (
    Version,
    VersionError,
    matching_versions,
    parse_constraint,
    satisfiable,
    sort_versions,
)


@pytest.mark.parametrize(
    "older, newer",
    [
        ("1.2", "1.10"),
        ("1.2.3", "1.2.10"),
        ("1.2", "1.2.0"),  # a shorter prefix is older
        ("1.2.0", "1.2.1"),
        ("2.9", "10.0"),
        ("1.2a", "1.2.0"),  # letters sort below numbers
        ("1.0rc1", "1.0"),  # pre-release
        ("1.0alpha", "1.0beta"),
        ("1.0beta2", "1.0rc1"),
        ("8.7.0", "8.7.0.84-11.8"),
        ("8.7.0.84-11.8", "8.9.7.29-12"),
        ("2024.1", "2024.3"),
        ("20240829.4", "20250722.3"),
        ("4.5.0.0", "4.5.1"),
        ("99999.0", "develop"),  # infinity versions beat any number
        ("1.2.3", "main"),
        ("stable", "nightly"),
        ("trunk", "head"),
        ("head", "master"),
        ("master", "main"),
        ("main", "develop"),
        ("develop-1.12", "develop-1.14"),
        ("2.1.0", "develop-1.8"),
    ],
)
def test_ordering(older, newer):
    assert Version(older) < Version(newer)
    assert Version(newer) > Version(older)
    assert not Version(newer) < Version(older)


@pytest.mark.parametrize("a, b", [("1.2.3", "1-2-3"), ("1.2.3", "1_2_3"), ("1.2-3", "1.2.3")])
def test_separators_do_not_matter(a, b):
    assert Version(a) == Version(b)
    assert hash(Version(a)) == hash(Version(b))


def test_str_keeps_original_text():
    assert str(Version("8.7.0.84-11.8")) == "8.7.0.84-11.8"
    assert Version("develop").is_develop
    assert not Version("1.2").is_develop
    assert Version("1.0rc1").is_prerelease


@pytest.mark.parametrize(
    "constraint, version, expected",
    [
        # plain version = prefix semantics
        ("3.10", "3.10", True),
        ("3.10", "3.10.20", True),
        ("3.10", "3.1", False),
        ("3.10", "3.100", False),
        ("3.1", "3.10", False),
        ("8.7.0", "8.7.0.84-11.8", True),  # the cudnn case
        ("8.7", "8.7.0.84-11.8", True),
        ("8.7.0", "8.7.1", False),
        ("4", "4.7.1", True),
        ("1.2", "1.2rc1", False),  # as in Spack: 1.2rc1 < 1.2, the range starts at 1.2
        ("1.2", "1.2.1rc1", True),
        # exact
        ("=1.2", "1.2", True),
        ("=1.2", "1.2.1", False),
        ("=1.2", "1-2", True),
        # closed ranges: inclusive, upper bound has prefix semantics
        ("1.2:1.4", "1.2", True),
        ("1.2:1.4", "1.3.9", True),
        ("1.2:1.4", "1.4", True),
        ("1.2:1.4", "1.4.7", True),
        ("1.2:1.4", "1.5", False),
        ("1.2:1.4", "1.1.9", False),
        ("1.2:1.4", "1.2rc1", False),
        # open ranges
        ("1.2:", "1.2", True),
        ("1.2:", "99", True),
        ("1.2:", "develop", True),
        ("1.2:", "1.1", False),
        (":1.4", "0.1", True),
        (":1.4", "1.4.9", True),
        (":1.4", "1.5", False),
        (":1.4", "develop", False),
        (":", "anything", True),
        ("4:", "5.0.10", True),
        ("4:", "3.1.6", False),
        (":0.20", "0.19.8.1", True),
        (":0.20", "0.21", False),
        # lists
        ("1.2,1.5:1.6", "1.2.3", True),
        ("1.2,1.5:1.6", "1.6.1", True),
        ("1.2,1.5:1.6", "1.4", False),
        ("1.2, 1.5:1.6", "1.5", True),
        # named versions
        ("develop", "develop", True),
        ("main", "develop", False),
        ("develop", "1.0", False),
        # leading @ accepted
        ("@2024.1", "2024.1", True),
    ],
)
def test_constraint_contains(constraint, version, expected):
    assert parse_constraint(constraint).contains(Version(version)) is expected


@pytest.mark.parametrize(
    "text, message, offset",
    [
        ("", "empty version constraint", 0),
        ("1.2:1.0", "empty version range '1.2:1.0'", 0),
        ("1.2::3", "too many ':'", 4),
        ("1.2,", "empty element", 4),
        (",1.2", "empty element", 0),
        ("=", "version expected after '='", 1),
        ("1.2.", "must end with a letter or digit", 3),
        ("1.2=3", "unexpected '='", 3),
        ("=1.2:1.4", "cannot be combined with a range", 0),
        ("1.2;3", "invalid character ';'", 3),
    ],
)
def test_invalid_constraints(text, message, offset):
    with pytest.raises(VersionError) as info:
        parse_constraint(text)
    assert message in info.value.message
    assert info.value.offset == offset


def test_constraint_normalises_whitespace():
    assert str(parse_constraint("1.2 , 1.5 : 1.6")) == "1.2,1.5:1.6"


def test_git_versions_are_satisfiable():
    assert satisfiable("git.main=1.2", ["1.0"])
    assert satisfiable("git." + "a" * 40, [])
    assert satisfiable("0123456789abcdef0123456789abcdef01234567=2.0", ["1.0"])
    assert parse_constraint("git.feature/x=1.2:1.4").is_git


SAMTOOLS = ["1.23.1", "1.21", "1.19.2", "1.19", "1.18"]
CUDNN = ["9.21.0.82-13", "8.9.7.29-12", "8.7.0.84-11.8", "8.6.0.163-11.8"]
PYTHON = ["3.14.5", "3.13.13", "3.12.13", "3.11.15", "3.10.20"]


def test_satisfiable():
    assert satisfiable("1.21", SAMTOOLS)
    assert satisfiable("@1.19", SAMTOOLS)
    assert not satisfiable("9.9", SAMTOOLS)
    assert satisfiable("8.7.0", CUDNN)
    assert satisfiable("3.10", PYTHON)
    assert not satisfiable("3.9", PYTHON)
    assert satisfiable("3.9:3.11", PYTHON)
    assert not satisfiable("=3.10", PYTHON)
    assert not satisfiable("1.0", [])
    assert satisfiable("1.0", ["not a version!", "1.0.1"])  # junk declared versions skipped


def test_matching_versions_keeps_declared_order():
    assert matching_versions("1.19:", SAMTOOLS) == ["1.23.1", "1.21", "1.19.2", "1.19"]
    assert matching_versions("8", CUDNN) == ["8.9.7.29-12", "8.7.0.84-11.8", "8.6.0.163-11.8"]
    assert matching_versions("1.20:1.22", SAMTOOLS) == ["1.21"]


def test_sort_versions():
    assert sort_versions(["1.2", "develop", "1.10", "main", "1.9"]) == [
        "develop", "main", "1.10", "1.9", "1.2",
    ]
    assert sort_versions(["2", "10", "1"], newest_first=False) == ["1", "2", "10"]


def test_invalid_version():
    with pytest.raises(VersionError):
        Version("1.2 3")
    with pytest.raises(VersionError):
        Version("")
