"""The Spack spec parser: grammar, canonical form and hostile input."""

from __future__ import annotations

import pytest

from pctl.spack.spec import MAX_SPEC_LENGTH, Spec, SpecSyntaxError, parse_spec

VALID = [
    "gromacs@2024.1 +mpi ~cuda ^openmpi@4.1 %gcc@12",
    "py-torch@2.0.1+cuda cuda_arch=80",
    "openmpi fabrics=ofi,ucx schedulers=slurm",
    "lammps@20240829.4 +openmp",
    "wrf@4 build_type=dm+sm",
    "openmpi@4:",
    "hdf5+mpi ^mpich",
    "samtools",
    "samtools@1.21",
    "python@3.10",
    "cudnn@8.7.0",
    "3dtk",
    "gcc@12 +strip +binutils ^binutils@2.37",
    "intel-oneapi-compilers@2024.1.0 %gcc@12",
    "lammps lammps_sizes=bigbig +molecule +kspace +rigid +asphere +opt +openmp "
    "+openmp-package fft=mkl ^intel-oneapi-mkl",
    "gromacs@2024.3 ^armpl-gcc ^openmpi",
    "mpich pmi=pmi2 device=ch4 netmod=ofi +slurm",
    "openmpi ~atomics ~cuda ~cxx ~internal-hwloc +legacylaunchers fabrics=ofi",
    "wrf %c,fortran=oneapi",
    "py-torch ^mpi=openmpi@5",
    "x@1.2:1.4,2.0:",
    "x@:1.4",
    "x@=1.2",
    "x@git.v1.2-fix=1.2",
    "x@develop",
    "foo -mpi",
    "foo ++debug ~~shared --static",
    "foo a==b",
    "foo cflags='-O3 -g' cxxflags=\"-O2\" ldflags=-Wl,-rpath,/opt/lib",
    "foo target=x86_64_v4 os=amzn2 platform=linux",
    "foo dev_path=/home/me/src",
    "hdf5 %gcc@12 +strip",
    "foo@1.2 %gcc@12.3: ^bar@2 %clang@17 ^baz",
    "gcc@12",
    "  samtools@1.21   +x  ",
    "foo\t+bar",
    "x@ 1.2 , 1.4",
    "zlib-ng@2.1.6 +compat",
    "netcdf-c@4.9.2 +mpi ~dap",
    "libfabric@1.17.0 fabrics:=shm,efa",
    "r-ggplot2",
    "foo+A_B",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_specs_round_trip(text):
    spec = parse_spec(text)
    canonical = str(spec)
    again = parse_spec(canonical)
    assert again == spec
    assert str(again) == canonical  # idempotent


def test_gromacs_example_structure():
    s = parse_spec("gromacs@2024.1 +mpi ~cuda ^openmpi@4.1 %gcc@12")
    assert s.name == "gromacs"
    assert s.version == "2024.1"
    assert s.variants == {"mpi": True, "cuda": False}
    assert s.compiler is None  # in Spack 1.x, %gcc after ^openmpi belongs to openmpi
    (dep,) = s.dependencies
    assert dep.name == "openmpi" and dep.version == "4.1"
    assert dep.compiler == "gcc" and dep.compiler_version == "12"
    assert str(s) == "gromacs@2024.1 ~cuda +mpi ^openmpi@4.1 %gcc@12"
    assert s.package_names() == ["gromacs", "openmpi", "gcc"]


def test_root_compiler_and_values():
    s = parse_spec("py-torch@2.0.1+cuda cuda_arch=80 %gcc@12")
    assert s.compiler == "gcc" and s.compiler_version == "12"
    assert s.variants == {"cuda": True, "cuda_arch": "80"}
    assert str(s) == "py-torch@2.0.1 +cuda cuda_arch=80 %gcc@12"


def test_options_after_compiler_belong_to_compiler():
    s = parse_spec("hdf5 %gcc@12 +mpi")
    assert s.variants == {}
    assert s.compiler_spec.variants == {"mpi": True}


def test_multi_valued_and_bool_values_normalised():
    s = parse_spec("openmpi fabrics=ucx,ofi schedulers=slurm generic-names=True x=FALSE")
    assert s.variants["fabrics"] == "ofi,ucx"
    assert s.variants["generic-names"] is True
    assert s.variants["x"] is False
    assert parse_spec("openmpi fabrics=ofi,ucx") == parse_spec("openmpi fabrics=ucx,ofi")
    assert parse_spec("foo -mpi") == parse_spec("foo~mpi")
    assert parse_spec("foo +mpi") == parse_spec("foo mpi=true")


def test_canonical_is_sorted_and_single_spaced():
    a = parse_spec("foo   +zeta ~alpha   cflags=-O2 mid=x  ^zlib ^bzip2@1")
    assert str(a) == "foo ~alpha mid=x +zeta cflags=-O2 ^bzip2@1 ^zlib"
    assert str(a) == str(parse_spec("foo cflags=-O2 mid=x ~alpha +zeta ^bzip2@1 ^zlib"))
    # options after a ^dependency belong to that dependency, as in Spack
    b = parse_spec("foo ^zlib ^bzip2@1 cflags=-O2 +x")
    assert b.flags == {} and b.dependencies[0].flags == {"cflags": "-O2"}
    assert str(b) == "foo ^bzip2@1 +x cflags=-O2 ^zlib"


def test_flags_quotes_and_propagation():
    s = parse_spec("foo cflags=\"-O3 -g\" ++debug fflags==-O1")
    assert s.flags == {"cflags": "-O3 -g", "fflags": "-O1"}
    assert s.propagate == frozenset({"debug", "fflags"})
    assert str(s) == "foo ++debug cflags='-O3 -g' fflags==-O1"


def test_virtual_assignment():
    s = parse_spec("wrf %c,fortran=oneapi@2024")
    assert s.compiler == "oneapi"
    assert s.compiler_spec.virtuals == ("c", "fortran")
    assert s.compiler_version == "2024"
    d = parse_spec("py-torch ^mpi=openmpi").dependencies[0]
    assert d.name == "openmpi" and d.virtuals == ("mpi",)


def test_target_and_version_helpers():
    s = parse_spec("foo@1.2 , 1.4 target=x86_64_v4")
    assert s.version == "1.2,1.4"
    assert s.target == "x86_64_v4"


def test_anonymous_specs():
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec("+mpi")
    assert info.value.reason == "package name expected"
    s = parse_spec("+mpi target=x86_64_v3", allow_anonymous=True)
    assert s.name is None and s.variants["mpi"] is True
    assert parse_spec(str(s), allow_anonymous=True) == s
    assert parse_spec("%gcc", allow_anonymous=True).compiler == "gcc"


INVALID = [
    # text, reason, column (0-based)
    ("samtools; rm -rf /", "unexpected character ';'", 8),
    ("samtools@", "empty version after '@'", 8),
    ("samtools@ +x", "empty version after '@'", 8),
    ("foo +", "variant name expected after '+'", 4),
    ("foo ~ ", "variant name expected after '~'", 4),
    ("foo ++", "variant name expected after '++'", 4),
    ("foo +=x", "variant name expected after '+'", 4),
    ("", "empty spec: a package name is expected", 0),
    ("   ", "empty spec: a package name is expected", 0),
    ("foo bar", "unexpected second package name 'bar' (one spec per entry; use '^bar' for a "
     "dependency)", 4),
    ("Samtools", "package names are lowercase: did you mean 'samtools'?", 0),
    ("_foo", "package name '_foo' must start with a lowercase letter or digit", 0),
    ("foo ^", "package name expected after '^'", 4),
    ("foo ^ +x", "package name expected after '^'", 4),
    ("foo %", "compiler name expected after '%'", 4),
    ("foo %%gcc", "'%%' (propagated compiler preference) is not supported; use '%'", 4),
    ("foo %[virtuals=c] gcc", "edge attributes like '%[virtuals=c] gcc' are not supported; "
     "write '%gcc' or '%c=gcc'", 5),
    ("foo ^[deptypes=build] bar", "dependency edge attributes like '^[deptypes=build] pkg' "
     "are not supported; write '^pkg'", 5),
    ("builtin.foo", "namespaced names like 'builtin.…' are not supported; use the plain "
     "package name", 7),
    ("foo@1.2 @1.3", "a second version for foo (versions are combined with ',' as in "
     "'@1.2,1.4')", 8),
    ("foo +mpi ~mpi", "variant 'mpi' is given twice for foo", 9),
    ("foo +mpi mpi=false", "variant 'mpi' is given twice for foo", 9),
    ("foo ^bar ^bar@2", "dependency 'bar' is given twice", 9),
    ("foo %gcc %clang", "a second compiler '%clang' for foo (already '%gcc')", 9),
    ("foo@1.2:1.0", "empty version range '1.2:1.0': the lower bound 1.2 is newer than the "
     "upper bound 1.0", 4),
    ("foo@1.2.", "version '1.2.' must end with a letter or digit", 7),
    ("foo@:1:2", "too many ':' in version range ':1:2'", 6),
    ("foo@1.2,", "empty element in version list", 8),
    ("foo a=", "value expected after 'a='", 6),
    ("foo a==", "value expected after 'a=='", 7),
    ("foo =x", "variant name expected before '='", 4),
    ("foo cflags=\"-O3", "unterminated quote \" (opened here)", 11),
    ("foo cflags=''", "empty quoted value", 11),
    ("foo cflags='-O3'+x", "a quoted value must be followed by a space", 16),
    ("foo +mpi=1", "'+mpi=' mixes a boolean and a valued variant; write '+mpi' or 'mpi=value'", 4),
    ("foo :1.2", "unexpected character ':'", 4),
    ("foo , bar", "unexpected character ','", 4),
    ("foo %cflags=-O3", "compiler name expected after '%'", 4),
]


@pytest.mark.parametrize("text, reason, column", INVALID)
def test_invalid_specs(text, reason, column):
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec(text)
    err = info.value
    assert err.reason == reason
    assert err.column == column
    assert str(err) == f"{reason} at column {column + 1}"
    assert isinstance(err, ValueError)


def test_error_message_example_from_brief():
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec("samtools; rm -rf /")
    assert str(info.value) == "unexpected character ';' at column 9"
    assert info.value.column == 8
    assert info.value.pointer() == "samtools; rm -rf /\n        ^"


HOSTILE = [
    "samtools; rm -rf /",
    "samtools && reboot",
    "samtools || true",
    "samtools | sh",
    "$(reboot)",
    "samtools $(reboot)",
    "samtools@$(id)",
    "`id`",
    "samtools `id`",
    "a\nb",
    "samtools\n+mpi",
    "samtools\r",
    "samtools\x00",
    "x\x1b[31m",
    '"x"',
    "'x'",
    "foo cflags='$(id)'",
    "foo cflags=\"`id`\"",
    "foo cflags='a;b'",
    "foo cflags=\"a\\\"b\"",
    "foo cflags='a\"b'",
    "samtools > /etc/passwd",
    "samtools < /etc/passwd",
    "samtools*",
    "samtools?",
    "samtools\\",
    "samtools{a,b}",
    "samtools}",
    "samtools (x)",
    "samtools !x",
    "samtools #comment",
    "samtools & ",
    "sämtools",
    "samtools@１.２",  # full-width digits
    "samtools\u200b",  # zero-width space
    "samtools\u00a0+x",  # no-break space
    "ｓａｍｔｏｏｌｓ",
    "samtools ~/x",
    "foo dev_path=/a;b",
    "foo dev_path=$HOME",
    "x" * (MAX_SPEC_LENGTH + 1),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_rejected(text):
    with pytest.raises(SpecSyntaxError):
        parse_spec(text)


def test_max_length_boundary():
    name = "a" * MAX_SPEC_LENGTH
    assert parse_spec(name).name == name
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec(name + "b")
    assert "too long" in info.value.reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ("a\nb", "unexpected character U+000A (line break) (a spec must be on one line)"),
        ("x\x00", "unexpected character U+0000 (NUL)"),
        ("sämtools", "unexpected character 'ä' (U+00E4, non-ASCII)"),
        ('"x"', "unexpected character '\"' (quotes are only allowed around a value, as in "
                "cflags=\"-O2 -g\")"),
        ("`id`", "unexpected character '`'"),
        ("$(reboot)", "unexpected character '$'"),
    ],
)
def test_hostile_messages(text, reason):
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec(text)
    assert info.value.reason == reason


def test_non_string_rejected():
    with pytest.raises(TypeError):
        parse_spec(None)  # type: ignore[arg-type]


def test_spec_parse_classmethod_and_nodes():
    s = Spec.parse("a %gcc ^b %clang ^c")
    assert [n.name for n in s.nodes()] == ["a", "gcc", "b", "clang", "c"]


# -- property tests -------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALPHABET = st.sampled_from(list("abcz019_-+~@%^=:,./ '\"[]$;|&`\n\\*?éX"))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_fuzz_parse_only_raises_syntax_error(text):
    try:
        spec = parse_spec(text, allow_anonymous=True)
    except SpecSyntaxError as err:
        assert 0 <= err.column <= len(text)
        return
    again = parse_spec(str(spec), allow_anonymous=True)
    assert again == spec
    canonical = str(spec)
    assert not set(canonical) & set("$;|&`\n\\*?\"")


_NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
_VARIANT = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_VERSION = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)


@st.composite
def _specs(draw):
    parts = [draw(_NAME)]
    if draw(st.booleans()):
        lo = draw(_VERSION)
        parts[0] += "@" + draw(st.sampled_from([lo, lo + ":", ":" + lo, "=" + lo]))
    for name in draw(st.lists(_VARIANT, max_size=4, unique=True)):
        kind = draw(st.sampled_from(["+", "~", "kv"]))
        parts.append(f"{name}={draw(_VARIANT)}" if kind == "kv" else kind + name)
    if draw(st.booleans()):
        parts.append("%gcc@" + draw(_VERSION))
    for dep in draw(st.lists(_NAME, max_size=3, unique=True)):
        parts.append("^" + dep)
    return " ".join(parts)


@settings(max_examples=300, deadline=None)
@given(_specs())
def test_generated_specs_round_trip(text):
    spec = parse_spec(text)
    assert parse_spec(str(spec)) == spec


def test_error_pickles():
    import pickle

    try:
        parse_spec("samtools; rm")
    except SpecSyntaxError as err:
        clone = pickle.loads(pickle.dumps(err))
        assert str(clone) == str(err) and clone.column == err.column and clone.text == err.text
