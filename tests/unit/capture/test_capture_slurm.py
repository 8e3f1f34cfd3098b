"""Slurm and other-scheduler parsers, hostlists, time/memory units, queue summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.capture.parsers import (
    expand_hostlist,
    hostlist_count,
    parse_gres,
    parse_hms_time,
    parse_kv_line,
    parse_lsf_bqueues,
    parse_lsf_hosts,
    parse_mem_mb,
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
    sinfo_partitions,
    summarize_queues,
)

ROOT = Path(__file__).resolve().parents[3]
FIX = ROOT / "tests" / "fixtures" / "capture"
REALWORLD = ROOT.parent / "shared" / "data" / "realworld-modules"
SAMPLES = ROOT.parent / "shared" / "reference" / "onprem-sim" / "samples"


def _fx(rel: str) -> str:
    return (FIX / rel).read_text()


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    "text,minutes",
    [
        ("30", 30),
        ("30:00", 30),
        ("30:30", 31),
        ("00:20:00", 20),
        ("12:00:00", 720),
        ("1-00:00:00", 1440),
        ("2-00:00:00", 2880),
        ("1-12", 2160),
        ("1-02:30", 1590),
        ("0-00:00:30", 1),
        ("UNLIMITED", None),
        ("infinite", None),
        ("INFINITE", None),
        ("NONE", None),
        ("n/a", None),
        ("", None),
        (None, None),
        ("1-", None),
        ("a:b", None),
        ("1:2:3:4", None),
        ("-5", None),
    ],
)
def test_parse_slurm_time(text, minutes):
    assert parse_slurm_time(text) == minutes


@pytest.mark.parametrize(
    "text,unit,minutes",
    [("3600", "s", 60), ("01:30:00", "s", 90), ("10:00", "s", 10), ("2:00", "m", 120), ("90", "m", 90), ("INFINITY", "s", None), ("x", "s", None)],
)
def test_parse_hms_time(text, unit, minutes):
    assert parse_hms_time(text, unit) == minutes


@pytest.mark.parametrize(
    "text,unit,mb",
    [
        ("16G", "m", 16384),
        ("2000", "m", 2000),
        ("1157977M", "m", 1157977),
        ("64gb", "b", 65536),
        ("263921664kb", "b", 257736),
        ("1073741824", "b", 1024),
        ("1.5G", "m", 1536),
        ("UNLIMITED", "m", None),
        ("lots", "m", None),
        ("5Q", "m", None),
    ],
)
def test_parse_mem_mb(text, unit, mb):
    assert parse_mem_mb(text, unit) == mb


@pytest.mark.parametrize(
    "expr,hosts",
    [
        ("node[01-04,07],gpu01", ["node01", "node02", "node03", "node04", "node07", "gpu01"]),
        ("cn001", ["cn001"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("hbnode-[06,09-11]", ["hbnode-06", "hbnode-09", "hbnode-10", "hbnode-11"]),
        ("a[8-10]", ["a8", "a9", "a10"]),
        ("a[008-010]", ["a008", "a009", "a010"]),
        ("bad[x-y]", ["bad[x-y]"]),
        ("", []),
        ("(null)", []),
    ],
)
def test_expand_hostlist(expr, hosts):
    assert expand_hostlist(expr) == hosts
    assert hostlist_count(expr) == len(hosts)


def test_hostlist_huge_is_capped_but_counted():
    assert hostlist_count("n[1-10000000]") == 10_000_000
    assert len(expand_hostlist("n[1-10000000]", limit=1000)) == 1000


def test_hostlist_realworld_counts():
    assert hostlist_count("svc-3024-2-[1-8,11-15,18-24],svc-3024-4-[1-19]") == 39
    assert hostlist_count("cbsuecco[03-04],cbsueccosl[01,03-04]") == 5
    assert hostlist_count("node[22-29,31-40]") == 18


@pytest.mark.parametrize(
    "gres,count,gtype",
    [
        ("gpu:a100:4(S:0-1)", 4, "a100"),
        ("gpu:4,mps:400", 4, None),
        ("gpu", 1, None),
        ("gpu:tesla", 1, "tesla"),
        ("(null)", 0, None),
        ("mps:100", 0, None),
        ("gpu:a100:2,gpu:v100:1", 3, "a100"),
        ("gres/gpu=8", 8, None),
        ("gres/gpu:h100=4", 4, "h100"),
        ("gpu:nvidia_a100-sxm4-80gb:4(IDX:0-3)", 4, "nvidia_a100-sxm4-80gb"),
    ],
)
def test_parse_gres(gres, count, gtype):
    assert parse_gres(gres) == (count, gtype)


def test_parse_kv_line_values_with_spaces():
    kv = parse_kv_line("OS=Linux 4.18 #1 SMP Reason=Not responding [slurm@2024] TRES=cpu=2,mem=1M Empty=")
    assert kv == {"OS": "Linux 4.18 #1 SMP", "Reason": "Not responding [slurm@2024]", "TRES": "cpu=2,mem=1M", "Empty": ""}


# --------------------------------------------------------------------------- scontrol / sinfo


def test_scontrol_partitions_fixture():
    ps = parse_scontrol_partitions(_fx("slurm/scontrol_partition.txt"))
    assert [p.name for p in ps] == ["cpu", "gpu", "debug"]
    cpu, gpu, debug = ps
    assert cpu.default and not gpu.default and not debug.default
    assert (cpu.node_count, cpu.total_cpus, cpu.max_time_min, cpu.default_time_min) == (64, 8192, 2880, 60)
    assert cpu.def_mem_per_cpu_mb == 3900 and cpu.max_nodes is None and cpu.max_mem_per_node_mb is None
    assert gpu.nodes == "gpu[01-04],gpu10" and gpu.node_count == 5 and gpu.gpus == 20
    assert gpu.max_nodes == 4 and gpu.max_time_min == 1440 and gpu.max_mem_per_node_mb == 512000
    assert gpu.qos == "gpu_qos" and gpu.allow_accounts == "gpu_users,admin" and gpu.max_cpus_per_node == 64
    assert debug.max_time_min == 30 and debug.hidden and debug.state == "DRAIN"
    assert debug.oversubscribe == "FORCE:4" and debug.max_mem_per_cpu_mb == 4096
    assert cpu.memory_mb == 32960000
    json.dumps(cpu.to_dict())


def test_scontrol_partitions_oneline():
    ps = parse_scontrol_partitions(_fx("slurm/scontrol_partition_oneline.txt"))
    assert [(p.name, p.node_count, p.max_time_min, p.default) for p in ps] == [
        ("short", 9, 240, True),
        ("long", 8, None, False),
    ]


def test_scontrol_partition_node_count_from_hostlist():
    ps = parse_scontrol_partitions("PartitionName=x Nodes=a[1-3],b MaxTime=5\n")
    assert ps[0].node_count == 4 and ps[0].max_time_min == 5


def test_scontrol_nodes_fixture():
    ns = parse_scontrol_nodes(_fx("slurm/scontrol_node.txt"))
    assert [n.name for n in ns] == ["cn001", "gpu01", "gpu10"]
    cn, g1, g10 = ns
    assert (cn.cpus, cn.real_memory_mb, cn.sockets, cn.cores_per_socket, cn.threads_per_core) == (128, 515000, 2, 64, 1)
    assert cn.partitions == ["cpu", "debug"] and cn.gpus == 0 and cn.features == ["rome", "ib"]
    assert cn.os.startswith("Linux 4.18.0") and cn.arch == "x86_64"
    assert (g1.gpus, g1.gpu_type, g1.state) == (4, "a100", "DOWN*+DRAIN")
    assert g1.raw["Reason"] == "Not responding [slurm@2024-01-01T10:00:00]"
    assert g1.cores == 64 and g1.threads_per_core == 2
    assert (g10.gpus, g10.arch, g10.cpus) == (4, "aarch64", 72)


def test_sinfo_default_fixture():
    rows = parse_sinfo(_fx("slurm/sinfo_default.txt"))
    assert len(rows) == 6 and not rows.warnings
    assert rows[0].partition == "cpu" and rows[0].default
    assert rows[1].state == "down*" and rows[1].nodes == 4
    agg = sinfo_partitions(rows)
    assert agg["cpu"]["nodes"] == 64 and agg["cpu"]["default"]
    assert agg["gpu"]["timelimit_min"] == 1440 and agg["gpu"]["states"] == {"mix": 4, "alloc": 1}
    assert agg["debug"]["timelimit_min"] == 30 and agg["long"]["timelimit_min"] is None
    assert rows[5].nodelist in (None, "")


def test_sinfo_custom_columns():
    rows = parse_sinfo(_fx("slurm/sinfo_custom.txt"))
    assert [r.cluster for r in rows] == ["hpc1"] * 3
    cpu, gpu, gpu10 = rows
    assert (cpu.cpus, cpu.memory_mb, cpu.gpus, cpu.sockets, cpu.cores, cpu.threads) == (128, 515000, 0, 2, 64, 1)
    assert (gpu.gpus, gpu.gpu_type, gpu.threads) == (4, "a100", 2)
    assert gpu10.memory_mb == 480000 and gpu10.gpus == 4


def test_sinfo_long_node_oriented():
    rows = parse_sinfo(_fx("slurm/sinfo_long_nodes.txt"))
    assert [(r.nodelist, r.partition, r.default, r.cpus, r.reason) for r in rows] == [
        ("cn001", "cpu", True, 128, "none"),
        ("gpu01", "gpu", False, 64, "Not responding"),
    ]
    assert rows[1].features == "a100,ib"


def test_sinfo_summary_and_reasons():
    rows = parse_sinfo(_fx("slurm/sinfo_summary.txt"))
    assert [(r.partition, r.nodes) for r in rows] == [("cpu", 64), ("gpu", 5)]
    rows = parse_sinfo(_fx("slurm/sinfo_reasons.txt"))
    assert [(r.reason, r.nodes) for r in rows] == [("Not responding", 1), ("bad DIMM replace", 4)]


def test_scontrol_config_fixture():
    cfg = parse_scontrol_config(_fx("slurm/scontrol_config.txt"))
    assert cfg["ClusterName"] == "hpc1"
    assert cfg["SlurmctldHost[0]"] == "head1(10.0.0.1)"
    assert cfg["PowerPlugin"] == "" and cfg["JobCompType"] == "(null)"
    assert cfg["ConstrainCores"] == "yes"
    assert "Configuration data as of 2024-03-01T12:00:00" not in cfg


def test_summarize_slurm_with_nodes():
    qs = summarize_queues(
        parse_scontrol_partitions(_fx("slurm/scontrol_partition.txt")),
        parse_scontrol_nodes(_fx("slurm/scontrol_node.txt")),
    )
    q = {x.name: x for x in qs}
    assert (q["cpu"].nodes, q["cpu"].cores_per_node, q["cpu"].memory_mb, q["cpu"].gpus_per_node) == (64, 128, 515000, 0)
    assert q["cpu"].default and q["cpu"].max_walltime_min == 2880 and q["cpu"].scheduler == "slurm"
    assert (q["gpu"].gpus_per_node, q["gpu"].gpu_type, q["gpu"].max_walltime_min) == (4, "a100", 1440)
    json.dumps([x.to_dict() for x in qs])


def test_summarize_slurm_partitions_only_uses_tres():
    q = summarize_queues(parse_scontrol_partitions(_fx("slurm/scontrol_partition.txt")))
    g = [x for x in q if x.name == "gpu"][0]
    assert (g.cores_per_node, g.memory_mb, g.gpus_per_node) == (64, 500000, 4)


def test_summarize_slurm_sinfo_only():
    q = {x.name: x for x in summarize_queues(parse_sinfo(_fx("slurm/sinfo_custom.txt")))}
    assert (q["cpu"].nodes, q["cpu"].cores_per_node, q["cpu"].memory_mb, q["cpu"].default) == (64, 128, 515000, True)
    assert q["gpu"].nodes == 5 and q["gpu"].gpus_per_node == 4


# --------------------------------------------------------------------------- PBS / SGE / LSF


def test_pbs_qstat_tables():
    qs = parse_pbs_qstat_q(_fx("schedulers/pbs_qstat_Q.txt"))
    assert [(q.name, q.queue_type, q.enabled) for q in qs] == [
        ("workq", "Execution", True),
        ("gpu", "Execution", True),
        ("routeq", "Route", True),
    ]
    qs = parse_pbs_qstat_q(_fx("schedulers/torque_qstat_Q.txt"))
    assert [(q.name, q.queue_type) for q in qs] == [("batch", "Execution")]


def test_pbs_qstat_full():
    qs = parse_pbs_qstat_q(_fx("schedulers/pbs_qstat_Qf.txt"))
    w, g = qs
    assert (w.name, w.max_walltime_min, w.default_walltime_min, w.max_ncpus, w.max_mem_mb, w.default) == (
        "workq", 2880, 60, 256, 1048576, True,
    )
    assert (g.max_gpus, g.max_nodes, g.started) == (8, 2, False)
    assert "default_queue" not in g.raw
    assert w.raw["state_count"].endswith("Begun:0")


def test_pbsnodes_and_summary():
    pro = parse_pbsnodes(_fx("schedulers/pbsnodes_pro.txt"))
    assert [(n.name, n.ncpus, n.mem_mb, n.gpus, n.queue) for n in pro] == [
        ("cn01", 64, 257736, 0, None),
        ("cn02", 64, 257736, 0, None),
        ("gpu01", 48, 515472, 4, "gpu"),
    ]
    tq = parse_pbsnodes(_fx("schedulers/pbsnodes_torque.txt"))
    assert [(n.name, n.ncpus, n.mem_mb, n.gpus, n.state) for n in tq] == [
        ("node01", 16, 64301, 2, "free"),
        ("node02", 16, None, 0, "down,offline"),
    ]
    qs = {q.name: q for q in summarize_queues(pbs_queues=parse_pbs_qstat_q(_fx("schedulers/pbs_qstat_Qf.txt")), pbs_nodes=pro)}
    assert (qs["workq"].nodes, qs["workq"].cores_per_node, qs["workq"].default, qs["workq"].scheduler) == (2, 64, True, "pbs")
    assert (qs["gpu"].nodes, qs["gpu"].gpus_per_node, qs["gpu"].max_walltime_min) == (1, 4, 1440)
    routed = summarize_queues(parse_pbs_qstat_q(_fx("schedulers/pbs_qstat_Q.txt")))
    assert "routeq" not in [q.name for q in routed]


def test_sge_parsers_and_summary():
    assert parse_sge_queue_list(_fx("schedulers/sge_qconf_sql.txt")) == ["all.q", "gpu.q"]
    qs = parse_sge_queue(_fx("schedulers/sge_qconf_sq.txt"))
    allq, gpuq = qs
    assert allq.host_slots == {"node01.local": 32, "node02.local": 32, "node03.local": 32}
    assert (allq.slots, allq.h_rt_min, allq.pe_list) == (1, 4320, ["make", "smp", "mpi"])
    assert (gpuq.gpus, gpuq.h_rt_min, gpuq.slots) == (4, 1440, 16)
    groups = parse_sge_hostgroup(_fx("schedulers/sge_qconf_shgrp.txt"))
    assert groups[0].hosts == ["node01.local", "node02.local", "node03.local"]
    hosts = parse_sge_qhost(_fx("schedulers/sge_qhost.txt"))
    assert [(h.name, h.ncpu) for h in hosts][:1] == [("node01", 32)] and len(hosts) == 4
    q = {x.name: x for x in summarize_queues(qs, groups, hosts)}
    assert (q["all.q"].nodes, q["all.q"].cores_per_node, q["all.q"].memory_mb, q["all.q"].default) == (3, 32, 128615, True)
    assert (q["gpu.q"].nodes, q["gpu.q"].cores_per_node, q["gpu.q"].gpus_per_node) == (1, 16, 4)


def test_lsf_parsers_and_summary():
    short = parse_lsf_bqueues(_fx("schedulers/lsf_bqueues.txt"))
    assert [(q.name, q.priority, q.status, q.max_slots) for q in short] == [
        ("priority", 43, "Open:Active", None),
        ("normal", 30, "Open:Active", None),
        ("gpu", 30, "Open:Inact", 64),
    ]
    long = parse_lsf_bqueues(_fx("schedulers/lsf_bqueues_l.txt"))
    n, g = long
    assert (n.default, n.run_limit_min, n.default_run_limit_min, n.mem_limit_mb, n.hosts) == (True, 1440, 60, 262144, ["all"])
    assert (g.default, g.run_limit_min, g.hosts, g.max_slots) == (False, 720, ["gpuhost1", "gpuhost2"], 64)
    hosts = parse_lsf_hosts(_fx("schedulers/lsf_bhosts.txt") + "\n" + _fx("schedulers/lsf_lshosts.txt"))
    assert len(hosts) == 4
    assert (hosts[2].max_slots, hosts[2].ncpus, hosts[2].maxmem_mb, hosts[2].resources) == (32, 32, 770000, ["mg", "gpu"])
    q = {x.name: x for x in summarize_queues(long, hosts)}
    assert (q["normal"].nodes, q["normal"].default, q["normal"].max_walltime_min) == (4, True, 1440)
    assert (q["gpu"].nodes, q["gpu"].cores_per_node, q["gpu"].memory_mb) == (2, 32, 770000)


def test_summarize_queues_empty_and_junk():
    assert summarize_queues() == []
    assert summarize_queues(None, [], "junk", 42) == []


# --------------------------------------------------------------------------- real-world samples

RW = REALWORLD.is_dir()


@pytest.mark.skipif(not RW, reason="../shared/data/realworld-modules not available")
def test_realworld_scontrol_partitions():
    ps = parse_scontrol_partitions((REALWORLD / "scontrol-partition-cornell-ecco.txt").read_text())
    assert [(p.name, p.default, p.node_count, p.total_cpus, p.max_time_min, p.def_mem_per_node_mb) for p in ps] == [
        ("regular", True, 5, 144, None, 4096)
    ]
    assert ps[0].nodes == "cbsuecco[03-04],cbsueccosl[01,03-04]"
    ps = parse_scontrol_partitions((REALWORLD / "scontrol-partition-cuhksz-csc4005.txt").read_text())
    assert [(p.name, p.default, p.node_count, p.total_cpus, p.max_time_min, p.max_nodes, p.max_mem_per_cpu_mb) for p in ps] == [
        ("Debug", True, 9, 360, 20, 1, 2048),
        ("Project", False, 18, 720, 10, 1, None),
    ]
    q = summarize_queues(ps)
    assert [(x.name, x.cores_per_node, x.memory_mb) for x in q] == [("Debug", 40, 40000), ("Project", 40, 40000)]


@pytest.mark.skipif(not RW, reason="../shared/data/realworld-modules not available")
@pytest.mark.parametrize(
    "name,rows,parts,default,cluster",
    [
        ("sinfo-ucsc-hummingbird.txt", 12, 8, "128x24", None),
        ("sinfo-cornell-ecco.txt", 5, 4, "slow", "cbsueccosl01"),
        ("sinfo-cuhksz-csc4005.txt", 3, 2, "Debug", None),
        ("sinfo-usf-hii-partition.txt", 3, 1, None, None),
    ],
)
def test_realworld_sinfo(name, rows, parts, default, cluster):
    rs = parse_sinfo((REALWORLD / name).read_text())
    assert len(rs) == rows and not rs.warnings
    agg = sinfo_partitions(rs)
    assert len(agg) == parts
    defaults = [p for p, a in agg.items() if a["default"]]
    assert defaults == ([default] if default else [])
    assert all(r.cluster == cluster for r in rs)
    for r in rs:  # NODES column agrees with the expanded NODELIST
        assert r.nodes == hostlist_count(r.nodelist)


@pytest.mark.skipif(not RW, reason="../shared/data/realworld-modules not available")
def test_realworld_sinfo_details():
    rs = parse_sinfo((REALWORLD / "sinfo-cuhksz-csc4005.txt").read_text())
    assert rs[0].state == "down*" and rs[0].timelimit_min == 20 and rs[0].partition == "Debug"
    agg = sinfo_partitions(parse_sinfo((REALWORLD / "sinfo-ucsc-hummingbird.txt").read_text()))
    assert agg["128x24"]["nodes"] == 18 and agg["instruction"]["timelimit_min"] == 720
    assert agg["512x64-ib"]["nodes"] == 13


@pytest.mark.skipif(not (SAMPLES / "system-and-slurm.txt").exists(), reason="onprem-sim samples not available")
def test_onprem_system_and_slurm_capture():
    text = (SAMPLES / "system-and-slurm.txt").read_text()
    ps = parse_scontrol_partitions(text)
    # the capture holds both the multi-line and the "-o" one-line listing
    assert [p.name for p in ps] == ["compute", "debug", "compute", "debug"]
    assert (ps[0].default, ps[0].max_time_min, ps[0].default_time_min) == (True, 2880, 60)
    assert ps[1].max_time_min == 30
    ns = parse_scontrol_nodes(text)
    assert [(n.name, n.cpus, n.real_memory_mb, n.partitions) for n in ns] == [("localhost", 2, 21694, ["compute", "debug"])]
    cfg = parse_scontrol_config(text)
    assert cfg["ClusterName"] == "labcluster" and cfg["SLURM_VERSION"] == "22.05.8"
    assert "PRETTY_NAME" not in cfg
    rows = parse_sinfo(text.split("##### sinfo --json")[0])
    assert {r.partition for r in rows} == {"compute", "debug"}
    js = text.split("##### sinfo --json\n", 1)[1].split("#####", 1)[0]
    jrows = parse_sinfo(js)
    assert [(r.partition, r.cpus, r.memory_mb) for r in jrows] == [("compute", 2, 21694), ("debug", 2, 21694)]
    q = {x.name: x for x in summarize_queues(ps[:2], ns)}
    assert (q["compute"].cores_per_node, q["compute"].memory_mb, q["compute"].default) == (2, 21694, True)
