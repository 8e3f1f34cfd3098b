"""Print a create plan in words a researcher understands."""

from __future__ import annotations

import click

from pctl.ui.trust import print_trust


def _row(label: str, text: str = "") -> None:
    click.echo(f"  {click.style(label.ljust(11), bold=True)} {text}")


def print_plan(plan: dict, *, looked_up: bool = False) -> None:
    c, t = plan["cluster"], plan["template"]
    click.secho("pctl create — dry run: nothing is created" + ("; AWS was asked what create would use" if looked_up
                                                                 else ", no AWS credentials used"), bold=True)
    click.echo()
    _row("Template", f"{t['source']}  (software fingerprint {t['fingerprint'][:12]})")
    _row("Cluster", f"{c['name']} in {c['region']}, {c['os']}, {c['arch']}")
    n = plan["network"]
    if n["mode"] == "existing":
        _row("Network", f"existing subnet {n['subnet_id']}")
    else:
        _row("Network", f"{n['description']}; {n['reused']}")
    h = plan["head_node"]
    root = f", root volume {h['root_volume_gb']} GiB" if h.get("root_volume_gb") else ""
    _row("Head node", f"{h['instance_type']} in {h.get('zone', '?')}, SSH from {h['ssh_from']}"
         + (f" ({h['ssh_source']})" if h.get("ssh_source") and h["ssh_source"] not in str(h["ssh_from"]) else "")
         + (f", key {c['key_name']}" if c.get("key_name") else "") + root)
    ami = plan.get("ami") or {}
    if ami.get("image_id"):
        _row("AMI", f"{ami['image_id']} ({ami['source']}" + (f", {ami['root_gb']} GiB" if ami.get("root_gb") else "") + ")")
    for i, q in enumerate(plan["queues"]):
        crs = q["compute_resources"]
        types = ", ".join(t for cr in crs for t in cr["instance_types"])
        if len(crs) > 1:  # max_count is per instance type (or pool of interchangeable types)
            _row("Queues" if i == 0 else "", f"{q['name']:<14} {q['capacity']:<9} {q['min_count']}–{q['max_count']} "
                                             "nodes in total")
            for cr in crs:
                always = f", {cr['min_count']} always on" if cr["min_count"] else ""
                _row("", f"  └ up to {cr['max_count']} x {' or '.join(cr['instance_types'])}{always}  ({cr['name']})")
        else:
            _row("Queues" if i == 0 else "", f"{q['name']:<14} {q['capacity']:<9} {q['min_count']}–{q['max_count']} "
                                             f"nodes  {types}")
        if q.get("zones"):
            _row("", f"  in {', '.join(q['zones'])}: {q.get('placement', '')}")
        for note in q["notes"]:
            if note.startswith("each instance type scales"):
                _row("", "    (max_count is per instance type; ParallelCluster has no queue-wide limit)")
            elif not note.startswith(("counts split", "stand in")) and " stand in for each other" not in note:
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
        access = f"; {m['access']}" if m.get("access") else ""
        _row("S3 mounts" if i == 0 else "",
             f"{m['mount_point']:<18} {src} ({'read-only' if m['read_only'] else 'read-write'}{rp}{access}), "
             "every node")
    if plan["users"]:
        users = ", ".join(f"{u['name']} ({u['uid']}:{u['gid']})" for u in plan["users"][:8])
        more = f" and {len(plan['users']) - 8} more" if len(plan["users"]) > 8 else ""
        _row("Users", f"{users}{more}, same ids on every node, homes in /home (shared)")
    print_trust(plan.get("trust"))  # sudo users, their keys, every mirror (pctl.ui.trust)
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
    for p in plan.get("iam", []):
        _row("IAM" if p is plan["iam"][0] else "", f"{p['name']} ({p['role']} nodes): " + "; ".join(p["allows"][:6])
             + (f"; and {len(p['allows']) - 6} more" if len(p["allows"]) > 6 else ""))
    b = plan["bucket"]
    _row("Bucket", f"s3://{b['name']}/{b['prefix']}  ({', '.join(b['objects'])}; {b['note']})")
    if plan.get("head_bootstrap_timeout"):
        _row("Timeout", f"head-node bootstrap {plan['head_bootstrap_timeout'] // 60} min")
    if plan.get("cost"):  # issue 15
        from pctl.ui.cost import print_plan_cost

        print_plan_cost(plan["cost"], _row)
    shown = {f"queue {q['name']}: {n}" for q in plan["queues"] for n in q["notes"]}  # printed with their queue
    for note in plan["notes"]:
        if note not in shown:
            _row("Note", note)
    for i, lk in enumerate(plan.get("lookups", [])):
        _row("Create asks" if i == 0 else "", lk)
    for w in plan["warnings"]:
        _row("Warning", w)
