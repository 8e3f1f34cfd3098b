"""Print a create plan in words a researcher understands."""

from __future__ import annotations

import click


def _row(label: str, text: str = "") -> None:
    click.echo(f"  {click.style(label.ljust(11), bold=True)} {text}")


def print_plan(plan: dict) -> None:
    c, t = plan["cluster"], plan["template"]
    click.secho("pctl create — dry run: nothing is created, no AWS credentials used", bold=True)
    click.echo()
    _row("Template", f"{t['source']}  (software fingerprint {t['fingerprint'][:12]})")
    _row("Cluster", f"{c['name']} in {c['region']}, {c['os']}, {c['arch']}")
    n = plan["network"]
    if n["mode"] == "existing":
        _row("Network", f"existing subnet {n['subnet_id']}")
    else:
        _row("Network", f"{n['description']}; {n['reused']}")
    h = plan["head_node"]
    _row("Head node", f"{h['instance_type']}, SSH from {h['ssh_from']}" + (f", key {c['key_name']}" if c.get("key_name") else ""))
    for i, q in enumerate(plan["queues"]):
        types = ", ".join(t for cr in q["compute_resources"] for t in cr["instance_types"])
        _row("Queues" if i == 0 else "", f"{q['name']:<14} {q['capacity']:<9} {q['min_count']}–{q['max_count']} nodes  {types}")
        if len(q["compute_resources"]) > 1:
            for cr in q["compute_resources"]:
                _row("", f"  └ {cr['name']}: {cr['min_count']}–{cr['max_count']} ({', '.join(cr['instance_types'])})")
        for note in q["notes"]:
            if not note.startswith("counts split"):
                _row("", f"  ! {note}")
    for i, s in enumerate(plan["storage"]):
        st = s["settings"]
        if "FileSystemId" in st or "VolumeId" in st:
            what = f"existing {st.get('FileSystemId') or st.get('VolumeId')}"
        elif s["type"] == "Ebs":
            what = f"new EBS {st.get('Size')} GB {st.get('VolumeType')}, encrypted"
        elif s["type"] == "FsxLustre":
            what = f"new FSx for Lustre {st.get('StorageCapacity')} GB {st.get('DeploymentType')}"
        else:
            what = "new EFS, encrypted"
        label = " (software)" if s["name"] == "pctl-software" else ""
        _row("Storage" if i == 0 else "", f"{s['mount_point']:<18} {what}{label}")
    for i, m in enumerate(plan["s3_mounts"]):
        src = f"s3://{m['bucket']}/{m['prefix'] or ''}"
        rp = ", requester pays: your account pays its requests and transfer" if m.get("requester_pays") else ""
        _row("S3 mounts" if i == 0 else "",
             f"{m['mount_point']:<18} {src} ({'read-only' if m['read_only'] else 'read-write'}{rp}), every node")
    if plan["users"]:
        users = ", ".join(f"{u['name']} ({u['uid']}:{u['gid']})" for u in plan["users"][:8])
        more = f" and {len(plan['users']) - 8} more" if len(plan["users"]) > 8 else ""
        _row("Users", f"{users}{more}, same ids on every node, homes in /home (shared)")
    sw = plan["software"]
    if sw["packages"]:
        how = {"boot": "installed once at boot on the head node into /opt/pctl (shared with every node)",
               "ami": "all in the custom AMI; nothing installed at boot",
               "layer": "the rest installed at boot into /opt/pctl-layer (shared), on top of the AMI's Spack",
               "none": ""}[sw["mode"]]
        _row("Software", f"{len(sw['packages'])} Spack package(s): {sw.get('summary', '')}")
        _row("", f"{how}; Lmod modules name/version ({sw['modules']})")
        if sw.get("target"):
            _row("CPU target", f"{sw['target']}: {sw.get('target_reason', '')}")
        if sw["mode"] in ("ami", "layer") and sw.get("in_ami"):
            _row("", "  in the AMI: " + ", ".join(sw["in_ami"]))
        if sw["mode"] == "layer":
            _row("", "  at boot:    " + ", ".join(sw["at_boot"]))
        est = sw.get("estimate")
        if est and sw["mode"] in ("boot", "layer"):
            _row("", f"install estimate: {est['summary']}")
        for p in (est or {}).get("packages", [])[:30] if sw["mode"] in ("boot", "layer") else []:
            _row("", f"  {p['name']:<24} ~{p['minutes']:>5.0f} min  {p['how']}")
        for w in sw.get("warnings", []):
            _row("Warning", w)
    else:
        _row("Software", "none (no spack_packages)")
    b = plan["bucket"]
    _row("Bucket", f"s3://{b['name']}/{b['prefix']}  ({', '.join(b['objects'])}; {b['note']})")
    if plan.get("head_bootstrap_timeout"):
        _row("Timeout", f"head-node bootstrap {plan['head_bootstrap_timeout'] // 60} min")
    for note in plan["notes"]:
        _row("Note", note)
    for w in plan["warnings"]:
        _row("Warning", w)
