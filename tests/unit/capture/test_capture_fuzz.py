"""Property tests: the capture parsers never raise, and a few invariants hold."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pctl.capture.parsers import (
    BatchJob,
    ModuleListing,
    expand_hostlist,
    hostlist_count,
    parse_batch_script,
    parse_lsf_bqueues,
    parse_lsf_hosts,
    parse_listing,
    parse_pbs_qstat_q,
    parse_pbsnodes,
    parse_scontrol_config,
    parse_scontrol_nodes,
    parse_scontrol_partitions,
    parse_sge_hostgroup,
    parse_sge_qhost,
    parse_sge_queue,
    parse_sge_queue_list,
    parse_sinfo,
    parse_slurm_time,
    summarize,
    summarize_queues,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text built from the characters and fragments that matter to these parsers.
FRAGMENTS = [
    "---- /opt/mf ----", "------------- Core -------------", "  Where:", "   D:  Default Module", "Wo:", "Key:",
    "(D)", "(L)", "(g,D)", "(11)", "<aL>", "(H)", "(default)", "(default:9)", "(@)", "gcc/12.2.0", "gcc/", ".x/1",
    "   ", "\t", "/p/modulefiles:", ":...skipping...", "lines 1-40", "(END)", "--More--", "\x1b[1;31m", "\x1b[0m",
    "  gcc: gcc/1, gcc/2, ...", "The following is a list of the modules and extensions currently available:",
    "Currently Loaded Modules:", "  1) gcc/1   2) mpi/2", "Use \"module spider\"", "#SBATCH", "#PBS", "#$", "#BSUB",
    "--nodes=", "-N", "-n", "--time=", "1-00:00:00", "--gres=gpu:a100:", "select=2:ncpus=", "-l", "nodes=",
    "ppn=", "walltime=", "-pe smp", "-R \"span[ptile=", "rusage[mem=", "]\"", "module load", "ml", "srun", "mpirun",
    "<<EOF", "EOF", "\\", "'", '"', "$(", ")", ";", "&&", "|", "PartitionName=", "NodeName=", "Nodes=", "node[01-",
    "]", ",", "MaxTime=", "UNLIMITED", "Gres=", "PARTITION AVAIL TIMELIMIT NODES STATE NODELIST", "up", "idle", "*",
    "Queue:", "    resources_max.walltime = ", "qname", "slots", "QUEUE:", "RUNLIMIT", "HOST_NAME", "=", ":",
    "{", "}", "[", "\"fullName\":", "\n", "\r\n", "\r", "\x00", "\ufeff", "é", "…",
]
texty = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=60).map(
    lambda parts: " ".join(parts)
)
linesy = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map("\n".join)
anytext = st.one_of(st.text(max_size=400), texty, linesy)

TEXT_PARSERS = [
    parse_listing,
    parse_scontrol_partitions,
    parse_scontrol_nodes,
    parse_scontrol_config,
    parse_sinfo,
    parse_pbs_qstat_q,
    parse_pbsnodes,
    parse_sge_queue_list,
    parse_sge_queue,
    parse_sge_hostgroup,
    parse_sge_qhost,
    parse_lsf_bqueues,
    parse_lsf_hosts,
    parse_batch_script,
]


@SETTINGS
@given(anytext)
def test_no_parser_raises(text):
    results = [p(text) for p in TEXT_PARSERS]
    listing = results[0]
    assert isinstance(listing, ModuleListing)
    json.dumps(listing.to_dict())
    for m in listing.modules:
        assert m.full_name and not m.full_name.endswith("/")
        assert " " not in m.full_name
    job = results[-1]
    assert isinstance(job, BatchJob)
    json.dumps(job.to_dict())
    assert job.total_cores >= 1 and job.node_count >= 1
    summarize_queues(*results[1:-1])
    json.dumps(summarize([job]).to_dict())


@SETTINGS
@given(st.binary(max_size=300))
def test_bytes_input(data):
    parse_listing(data)
    parse_batch_script(data)


FORMATS = ["lmod_avail", "tcl_avail", "lmod_terse", "lmod_spider", "lmod_spider_json", "tcl_json", "bogus", None]


@SETTINGS
@given(anytext, st.sampled_from(FORMATS))
def test_listing_with_forced_format(text, fmt):
    res = parse_listing(text, fmt=fmt)
    assert isinstance(res.warnings, list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)


@SETTINGS
@given(json_values)
def test_json_shapes_do_not_raise(value):
    parse_listing(json.dumps(value))


names = st.from_regex(r"[a-z][a-z0-9_+-]{0,8}", fullmatch=True)
versions = st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,3}){0,2}", fullmatch=True)
markers = st.sampled_from(["", " (D)", " (L)", " (L,D)", " (g)", "  (11)", " (H)"])


@SETTINGS
@given(st.lists(st.tuples(names, versions, markers), min_size=1, max_size=30), st.integers(1, 5), st.booleans())
def test_generated_lmod_avail_roundtrip(entries, ncols, tcl_style):
    """Entries laid out in columns (down, then across) are all recovered, duplicates kept."""
    cells = []
    for n, v, mk in entries:
        if tcl_style:
            cells.append(f"{n}/{v}" + ("(default)" if "D" in mk else ""))
        else:
            cells.append(f"{n}/{v}{mk}")
    rows = -(-len(cells) // ncols)
    width = max(len(c) for c in cells) + 2
    lines = []
    for r in range(rows):
        row = [cells[c * rows + r] for c in range(ncols) if c * rows + r < len(cells)]
        lines.append(("" if tcl_style else "   ") + "".join(x.ljust(width) for x in row))
    text = "\n---------- /opt/modulefiles ----------\n" + "\n".join(lines) + "\n\n  Where:\n   D:  Default Module\n"
    res = parse_listing(text)
    assert sorted(res.full_names()) == sorted(f"{n}/{v}" for n, v, _ in entries)
    want_default = sorted(f"{n}/{v}" for n, v, mk in entries if "D" in mk)
    assert sorted(m.full_name for m in res.modules if m.default) == want_default


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z]{1,5}", fullmatch=True),
            st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), min_size=1, max_size=3),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_hostlist_count_matches_expansion(items):
    parts = []
    for prefix, ranges, pad in items:
        specs = []
        for lo, span in ranges:
            a, b = lo, lo + span
            fa, fb = (f"{a:03d}", f"{b:03d}") if pad else (str(a), str(b))
            specs.append(fa if span == 0 else f"{fa}-{fb}")
        parts.append(f"{prefix}[{','.join(specs)}]")
    expr = ",".join(parts)
    hosts = expand_hostlist(expr)
    assert len(hosts) == hostlist_count(expr)


@SETTINGS
@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_slurm_time_forms_agree(d, h, m, s):
    total = ((d * 24 + h) * 60 + m) * 60 + s
    want = -(-total // 60)
    assert parse_slurm_time(f"{d}-{h:02d}:{m:02d}:{s:02d}") == want
    if d == 0:
        assert parse_slurm_time(f"{h:02d}:{m:02d}:{s:02d}") == want
    assert parse_slurm_time(f"{d}-{h}") == (d * 24 + h) * 60
    assert parse_slurm_time(f"{d}-{h}:{m}") == (d * 24 + h) * 60 + m


@SETTINGS
@given(
    st.integers(1, 64),
    st.integers(1, 128),
    st.integers(1, 8),
    st.sampled_from(["-N {n}", "--nodes={n}", "--nodes {n}", "-N{n}"]),
    st.sampled_from(["--ntasks-per-node={t}", "--ntasks-per-node {t}"]),
    st.sampled_from(["-c {c}", "--cpus-per-task={c}", "-c{c}"]),
)
def test_generated_slurm_scripts(n, t, c, nf, tf, cf):
    text = "\n".join(
        ["#!/bin/bash", "#SBATCH " + nf.format(n=n), "#SBATCH " + tf.format(t=t), "#SBATCH " + cf.format(c=c), "srun ./x"]
    )
    job = parse_batch_script(text)
    assert (job.nodes, job.ntasks_per_node, job.cpus_per_task) == (n, t, c)
    assert job.total_cores == n * t * c
    assert job.programs == ["x"]
