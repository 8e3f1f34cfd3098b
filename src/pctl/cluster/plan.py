"""Prepare a create: resolve and validate the template, apply command-line overrides, decide how
software is delivered, estimate the install, render node scripts and the ParallelCluster config.

`pctl create --dry-run` runs exactly this and stops before the first AWS call.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from pctl import __version__
from pctl.errors import UsageError
from pctl.template import rules


@dataclass(frozen=True)
class CreateOptions:
    template: str
    name: str | None = None
    custom_ami: str | None = None
    key_name: str | None = None
    subnet_id: str | None = None
    region: str | None = None
    public_only: bool = False


@dataclass
class Prepared:
    ref: object  # TemplateRef
    template: object  # Template
    fingerprint: str
    software_mode: str
    custom_ami: str | None
    estimate: object | None  # pctl.spack.estimate.Estimate
    scripts: dict[str, str]
    scripts_digest: str
    warnings: list = field(default_factory=list)
    software: object | None = None  # pctl.software.layers.SoftwarePlan (issue 11 hook)

    @property
    def cluster_name(self) -> str:
        return self.template.cluster.name


def _check_override(flag: str, value: str | None, problem) -> None:
    if value is None:
        return
    msg = problem(value)
    if msg:
        raise UsageError(f"{flag}: {msg}")


def apply_overrides(template, opts: CreateOptions):
    _check_override("--name", opts.name, rules.cluster_name_problem)
    _check_override("--region", opts.region, rules.region_problem)
    _check_override("--subnet-id", opts.subnet_id,
                    lambda v: None if rules.SUBNET_RE.fullmatch(v) else f"{v!r} is not a subnet id (subnet-0123456789abcdef0)")
    _check_override("--key-name", opts.key_name,
                    lambda v: None if rules.KEY_NAME_RE.fullmatch(v) else f"{v!r} is not a usable key pair name")
    _check_override("--custom-ami", opts.custom_ami,
                    lambda v: None if rules.AMI_ID_RE.fullmatch(v) or rules.AMI_NAME_RE.fullmatch(v) else
                    f"{v!r} is neither an AMI id nor a pctl AMI name")
    cluster = template.cluster.model_copy(update={k: v for k, v in {
        "name": opts.name, "region": opts.region, "key_name": opts.key_name, "custom_ami": opts.custom_ami,
    }.items() if v is not None})
    networking = template.networking
    if opts.subnet_id:
        networking = networking.model_copy(update={"subnet_id": opts.subnet_id})
    return template.model_copy(update={"cluster": cluster, "networking": networking})


def default_region(template) -> str | None:
    return template.cluster.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def prepare(opts: CreateOptions, *, catalog=None, use_catalog: bool = True, software_mode: str | None = None,
            ami=None) -> Prepared:
    """``ami``: (image id, its manifest) once the AMI the cluster boots is known (given or found);
    the software plan (pctl.software.layers) then says what is in it and what is installed at boot."""
    from pctl.render.scripts import render_node_scripts
    from pctl.software import layers
    from pctl.template.api import load_valid
    from pctl.template.fingerprint import fingerprint

    tref, result = load_valid(opts.template, catalog=catalog, use_catalog=use_catalog)
    template = apply_overrides(result.template, opts)
    custom_ami = template.cluster.custom_ami
    sw = layers.decide(template, custom_ami=ami[0] if ami else custom_ami, ami=ami[1] if ami else None,
                       catalog=catalog, force_mode=software_mode)
    scripts = render_node_scripts(layers.layer_template(template, sw), layers.script_options(sw))
    h = hashlib.sha256()
    for name in sorted(scripts):
        h.update(name.encode() + b"\0" + scripts[name].encode() + b"\0")
    return Prepared(ref=tref, template=template, fingerprint=fingerprint(template), software_mode=sw.mode,
                    custom_ami=custom_ami, estimate=sw.estimate, scripts=scripts, scripts_digest=h.hexdigest()[:16],
                    warnings=list(result.warnings), software=sw)


def software_status_key(cluster_name: str) -> str:
    """Where the head node publishes its software install progress (read by `pctl status`)."""
    return f"clusters/{cluster_name}/status/software.json"


def scripts_prefix(prepared: Prepared) -> str:
    return f"clusters/{prepared.cluster_name}/{prepared.scripts_digest}/"


def render_for(prepared: Prepared, *, region: str, bucket: str, head_subnet: str, compute_subnets: tuple[str, ...],
               ssh_cidr: str | None, custom_ami: str | None):
    from pctl.render.pcluster import RenderContext, render_config

    t = prepared.template
    ctx = RenderContext(
        region=region, head_subnet_id=head_subnet, compute_subnet_ids=compute_subnets, scripts_bucket=bucket,
        scripts_prefix=scripts_prefix(prepared), cluster_name=t.cluster.name, template_name=prepared.ref.name,
        fingerprint=prepared.fingerprint, pctl_version=__version__, software_mode=prepared.software_mode,
        key_name=t.cluster.key_name, ssh_allowed_cidr=ssh_cidr, custom_ami=custom_ami,
        install_minutes=(prepared.estimate.total_minutes if prepared.estimate is not None and
                         prepared.software_mode in ("boot", "layer") else None),
        status_key=software_status_key(t.cluster.name),
    )
    return ctx, render_config(t, ctx)


DRY_RUN_PUBLIC_SUBNET = "subnet-pctlpublic0"  # placeholders shown by --dry-run; create fills in real ids
DRY_RUN_PRIVATE_SUBNET = "subnet-pctlprivate"


def dry_run(opts: CreateOptions, *, catalog=None, use_catalog: bool = True, profile: str | None = None) -> dict:
    """Everything create would do, as data. No credentials needed; with a custom AMI and credentials,
    its tags are read (one read-only call) so that the plan makes create's software decision."""
    prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog)
    if prepared.custom_ami:  # issue 11 hook: what the AMI holds decides what is installed at boot
        from pctl.software.lookup import lookup_for_plan

        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog,
                           ami=lookup_for_plan(prepared.custom_ami, default_region(prepared.template) or "us-east-1",
                                               profile))
    t = prepared.template
    notes: list[str] = []
    region = default_region(t)
    if not region:
        region = "us-east-1"
        notes.append("no region in the template, --region or AWS_REGION: showing us-east-1")
    if t.networking.subnet_id:
        head_subnet = t.networking.subnet_id
        compute_subnets = (t.networking.subnet_id,)
        network = {"mode": "existing", "subnet_id": head_subnet}
    else:
        head_subnet = DRY_RUN_PUBLIC_SUBNET
        compute_subnets = (DRY_RUN_PUBLIC_SUBNET,) if opts.public_only else (DRY_RUN_PRIVATE_SUBNET,)
        network = {"mode": "pctl", "region": region, "public_only": opts.public_only,
                   "description": ("pctl network: VPC, public subnets in 2 availability zones, internet gateway"
                                   if opts.public_only else
                                   "pctl network: VPC, public and private subnets in 2 availability zones, internet "
                                   "gateway, NAT gateway (compute nodes stay private)"),
                   "reused": "created on first use in the region, reused by later clusters"}
    bucket = f"pctl-ACCOUNT-{region}"
    ctx, rendered = render_for(prepared, region=region, bucket=bucket, head_subnet=head_subnet,
                               compute_subnets=compute_subnets, ssh_cidr=t.networking.ssh_allowed_cidr,
                               custom_ami=prepared.custom_ami)
    est = prepared.estimate
    software = {
        "mode": prepared.software_mode,
        "root": "/opt/pctl",
        "modules": t.software.modules,
        "packages": list(t.software.spack_packages),
    }
    software.update(prepared.software.to_dict())  # issue 11: target, in the AMI / at boot, summary
    if est is not None:
        software["estimate"] = {
            "total_minutes": round(est.total_minutes, 1),
            "summary": est.summary(),
            "packages": [{"name": p.name, "minutes": round(p.minutes, 1), "how": p.how, "reason": p.reason}
                         for p in est.packages],
        }
    plan = {
        "template": {"source": prepared.ref.display, "name": prepared.ref.name, "fingerprint": prepared.fingerprint},
        "cluster": {"name": t.cluster.name, "region": region, "os": t.cluster.os, "arch": t.arch,
                    "custom_ami": prepared.custom_ami, "key_name": t.cluster.key_name},
        "network": network,
        "head_node": {"instance_type": t.compute.head_node,
                      "ssh_from": t.networking.ssh_allowed_cidr or "your current public IP (/32), detected at create"},
        "queues": [{
            "name": q.name, "capacity": q.capacity, "min_count": q.min_count, "max_count": q.max_count,
            "compute_resources": [{"name": c.name, "instance_types": c.instance_types, "min_count": c.min_count,
                                   "max_count": c.max_count} for c in q.compute_resources],
            "notes": q.notes,
        } for q in rendered.queues],
        "storage": [{"name": s["Name"], "type": s["StorageType"], "mount_point": s["MountDir"],
                     "settings": next((v for k, v in s.items() if k.endswith("Settings")), {})}
                    for s in rendered.config.get("SharedStorage", [])],
        "s3_mounts": [{"bucket": m.bucket, "prefix": m.prefix, "mount_point": m.mount_point,
                       "read_only": m.read_only, "requester_pays": m.requester_pays} for m in t.data.s3_mounts],
        "users": [{"name": u.name, "uid": u.uid, "gid": u.primary_gid, "groups": list(u.groups), "sudo": u.sudo}
                  for u in t.users],
        "groups": [{"name": g.name, "gid": g.gid} for g in t.groups],
        "software": software,
        "bucket": {"name": bucket, "prefix": ctx.scripts_prefix, "objects": sorted(prepared.scripts),
                   "note": "private, encrypted, TLS-only; ACCOUNT is your AWS account id"},
        "head_bootstrap_timeout": rendered.head_bootstrap_timeout,
        "notes": notes + rendered.notes,
        "warnings": [d.format() for d in prepared.warnings],
    }
    return {"dry_run": True, "plan": plan, "config": rendered.config, "scripts": prepared.scripts}
