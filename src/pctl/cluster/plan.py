"""One plan for `create --dry-run` and `create`: the dry run is the create minus the API calls.

- `prepare` resolves and validates the template (command-line overrides applied before validation), decides
  how software is delivered, estimates the install and renders the node scripts. Pure apart from reading the
  template.
- `Decisions` is everything create learns from AWS: account, bucket, network layout (subnets and zones),
  the AMI and its root size, the SSH address, the run id. The dry run fills it with placeholders of the same
  shape (as many subnets, in as many zones) or, with `--lookup`, with what AWS says now.
- `build` renders the ParallelCluster config, the IAM policies and the cluster's pctl stack from a Prepared and
  Decisions; `plan_dict` describes it for people and machines. Create and the dry run call the same two.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from pctl import __version__
from pctl.errors import UsageError
from pctl.template import rules

WORLD = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class CreateOptions:
    template: str
    name: str | None = None
    custom_ami: str | None = None
    key_name: str | None = None
    subnet_id: str | None = None
    region: str | None = None
    public_only: bool = False
    ssh_cidr: str | None = None
    ssh_from_anywhere: bool = False
    suppress_validators: tuple[str, ...] = ()


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
    verdict: object | None = None  # pctl.spack.buildplan.SoftwareVerdict: the same answer validate gives
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


def overrides(opts: CreateOptions) -> dict:
    """Command-line values, checked, as a partial template applied before validation."""
    _check_override("--name", opts.name, rules.cluster_name_problem)
    _check_override("--region", opts.region, rules.region_problem)
    _check_override("--subnet-id", opts.subnet_id,
                    lambda v: None if rules.SUBNET_RE.fullmatch(v) else f"{v!r} is not a subnet id (subnet-0123456789abcdef0)")
    _check_override("--key-name", opts.key_name,
                    lambda v: None if rules.KEY_NAME_RE.fullmatch(v) else f"{v!r} is not a usable key pair name")
    _check_override("--custom-ami", opts.custom_ami,
                    lambda v: None if rules.AMI_ID_RE.fullmatch(v) or rules.AMI_NAME_RE.fullmatch(v) else
                    f"{v!r} is neither an AMI id nor a pctl AMI name")
    _check_override("--ssh-cidr", opts.ssh_cidr, rules.cidr_problem)
    cluster = {k: v for k, v in {"name": opts.name, "region": opts.region, "key_name": opts.key_name,
                                 "custom_ami": opts.custom_ami}.items() if v is not None}
    out: dict = {}
    if cluster:
        out["cluster"] = cluster
    if opts.subnet_id:
        out["networking"] = {"subnet_id": opts.subnet_id}
    return out


def default_region(template) -> str | None:
    return template.cluster.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def prepare(opts: CreateOptions, *, catalog=None, use_catalog: bool = True, software_mode: str | None = None,
            purpose: str | None = None, ami=None) -> Prepared:
    """``ami``: (image id, its manifest) once the AMI the cluster boots is known (given or found);
    the software plan (pctl.software.layers) then says what is in it and what is installed at boot."""
    from pctl.registry.templates import load_valid
    from pctl.render.scripts import render_node_scripts
    from pctl.software import layers
    from pctl.template.fingerprint import fingerprint
    from pctl.template.validate import warnings_for

    tref, result = load_valid(opts.template, catalog=catalog, use_catalog=use_catalog, overrides=overrides(opts),
                              purpose=purpose)
    template = result.template
    custom_ami = template.cluster.custom_ami
    from pctl.spack.buildplan import assess

    if use_catalog and catalog is None:  # the catalog validation used: the estimate gives the same answer
        from pctl.spack.catalog import find_catalog

        try:
            catalog = find_catalog()
        except Exception:
            catalog = None
    verdict = assess(template, catalog=catalog if use_catalog else None, purpose=purpose)
    sw = layers.decide(template, custom_ami=ami[0] if ami else custom_ami, ami=ami[1] if ami else None,
                       catalog=catalog if use_catalog else None, force_mode=software_mode)
    scripts = render_node_scripts(layers.layer_template(template, sw), layers.script_options(sw))
    h = hashlib.sha256()
    for name in sorted(scripts):
        h.update(name.encode() + b"\0" + scripts[name].encode() + b"\0")
    ami_unknown = sw.ami is not None and not sw.ami.looked_up  # the dry run could not read the AMI
    return Prepared(ref=tref, template=template, fingerprint=fingerprint(template), software_mode=sw.mode,
                    custom_ami=custom_ami, estimate=sw.estimate if sw.estimate is not None else verdict.estimate,
                    scripts=scripts, scripts_digest=h.hexdigest()[:16],
                    warnings=warnings_for(result.warnings, sw.mode, ami_unknown=ami_unknown),
                    verdict=verdict, software=sw)


def software_status_key(cluster_name: str) -> str:
    """Where the head node publishes its software install progress (read by `pctl status`)."""
    return f"clusters/{cluster_name}/status/software.json"


def run_prefix(cluster_name: str, run_id: str) -> str:
    """Every object of one create run: no other run writes or deletes under it."""
    return f"clusters/{cluster_name}/runs/{run_id}/"


def new_run_id() -> str:
    import datetime as dt
    import secrets

    return dt.datetime.now(dt.timezone.utc).strftime("r%Y%m%d-%H%M%S-") + secrets.token_hex(3)


# ------------------------------------------------------------------ what create learns from AWS

ACCOUNT_PLACEHOLDER = "ACCOUNT"
DRY_RUN_ID = "dry-run"
# placeholders of the right shape (ParallelCluster's subnet id pattern): as many subnets, in as many zones
PLACEHOLDER_PUBLIC = ("subnet-pctlpubliczone001", "subnet-pctlpubliczone002")
PLACEHOLDER_PRIVATE = ("subnet-pctlprivatezone01", "subnet-pctlprivatezone02")


@dataclass
class AmiChoice:
    image_id: str | None  # None: the official ParallelCluster AMI for the OS
    source: str  # "official" | "custom" | "matching"
    root_gb: int | None = None
    tags: dict = field(default_factory=dict)
    lookup: str | None = None  # what create will look up (dry run without AWS)


@dataclass
class Decisions:
    region: str
    account_id: str
    bucket: str
    network: object  # pctl.render.pcluster.NetworkLayout
    network_plan: dict
    ssh_cidr: str | None
    ssh_source: str
    ami: AmiChoice
    run_id: str
    lookups: list[str] = field(default_factory=list)
    network_export: str | None = None  # the network stack's VpcId export (a pctl network made as a stack)
    offerings: dict | None = None  # instance type -> availability zones that offer it (None: not looked up)


def ssh_choice(opts: CreateOptions, template) -> tuple[str | None, str]:
    """Who may SSH to the head node. The command line wins over the template; the whole internet only when
    asked for explicitly (--ssh-from-anywhere or networking.ssh_from_anywhere: true)."""
    anywhere = opts.ssh_from_anywhere or bool(getattr(template.networking, "ssh_from_anywhere", False))
    if opts.ssh_cidr:
        cidr, source = opts.ssh_cidr, "--ssh-cidr"
    elif template.networking.ssh_allowed_cidr:
        cidr, source = template.networking.ssh_allowed_cidr, "networking.ssh_allowed_cidr"
    elif anywhere:
        cidr, source = "0.0.0.0/0", ("--ssh-from-anywhere" if opts.ssh_from_anywhere else "networking.ssh_from_anywhere")
    else:
        return None, "your public IP address (/32), detected at create"
    if cidr in WORLD and not anywhere:
        raise UsageError(f"SSH from the whole internet ({cidr}, from {source}) needs --ssh-from-anywhere "
                         "(or networking.ssh_from_anywhere: true in the template)",
                         hint="or restrict it: --ssh-cidr 203.0.113.0/24 (your site's addresses)")
    return cidr, source


def layout_from_network(net, *, public_only: bool, source: str = "pctl"):
    from pctl.render.pcluster import NetworkLayout, Subnet

    head_id, head_zone = net.public_subnets[0]
    compute = [Subnet(i, z, public=public_only or net.public_only) for i, z in net.compute_subnets(public_only)]
    return NetworkLayout(head=Subnet(head_id, head_zone, public=True), compute=tuple(compute),
                         source="legacy" if net.legacy else source)


def placeholder_decisions(prepared: Prepared, opts: CreateOptions, *, region: str | None = None) -> Decisions:
    """The dry run without AWS: placeholders of create's shape, and the lookups create will do."""
    from pctl.render.pcluster import NetworkLayout, Subnet

    t = prepared.template
    region = region or default_region(t) or "us-east-1"
    lookups = ["your AWS account id (the bucket name and the IAM policy ARNs)"]
    if t.networking.subnet_id:
        sid = t.networking.subnet_id
        network = NetworkLayout(head=Subnet(sid, "its zone", public=True), compute=(Subnet(sid, "its zone"),),
                                source="existing")
        network_plan = {"mode": "existing", "subnet_id": sid}
        export = None
    else:
        zones = ("zone 1", "zone 2")
        pub = [Subnet(s, z, public=True) for s, z in zip(PLACEHOLDER_PUBLIC, zones)]
        priv = [Subnet(s, z) for s, z in zip(PLACEHOLDER_PRIVATE, zones)]
        network = NetworkLayout(head=pub[0], compute=tuple(pub if opts.public_only else priv), source="pctl")
        from pctl.network.template import export_name, stack_name

        network_plan = {"mode": "pctl", "region": region, "stack": stack_name(region), "public_only": opts.public_only,
                        "zones": list(zones),
                        "description": ("pctl network: VPC, public subnets in 2 availability zones, internet gateway"
                                        if opts.public_only else
                                        "pctl network: VPC, public and private subnets in 2 availability zones, "
                                        "internet gateway, NAT gateway (compute nodes stay private)"),
                        "reused": "created on first use in the region (CloudFormation stack), reused by later clusters"}
        lookups.append(f"the region's pctl network (stack {stack_name(region)}): used when it exists, else created; "
                       "zone 1 and zone 2 are its two availability zones; queues use only the zones that offer "
                       "their instance types")
        export = export_name(region, "VpcId")
    cidr, source = ssh_choice(opts, t)
    if cidr is None:
        lookups.append("your public IP address, to allow SSH from it only")
    if prepared.custom_ami:
        ami = AmiChoice(prepared.custom_ami, "custom",
                        lookup=f"the custom AMI {prepared.custom_ami}: that it exists and is available, its size "
                               "(root volumes are never smaller) and its ParallelCluster version")
    elif prepared.software_mode == "boot":
        from pctl.aws.pcluster import version as pc_version

        ami = AmiChoice(None, "official",
                        lookup=f"an AMI built by 'pctl ami build' for this software (tag pctl:fingerprint="
                               f"{prepared.fingerprint[:12]}…, ParallelCluster {pc_version() or '?'}): when one "
                               "exists, create uses it and installs nothing at boot")
    else:
        ami = AmiChoice(None, "official")
    if ami.lookup:
        lookups.append(ami.lookup)
    return Decisions(region=region, account_id=ACCOUNT_PLACEHOLDER, bucket=f"pctl-{ACCOUNT_PLACEHOLDER}-{region}",
                     network=network, network_plan=network_plan, ssh_cidr=cidr, ssh_source=source, ami=ami,
                     run_id=DRY_RUN_ID, lookups=lookups, network_export=export)


@dataclass
class Build:
    ctx: object  # RenderContext
    rendered: object  # RenderedConfig
    stack_template: dict
    stack_tags: dict


def build(prepared: Prepared, d: Decisions) -> Build:
    """Render everything create submits: ParallelCluster's config, the node policies, the cluster's stack."""
    from pctl.cluster import stack as cluster_stack
    from pctl.render.pcluster import RenderContext, render_config

    t = prepared.template
    ctx = RenderContext(
        region=d.region, network=d.network, scripts_bucket=d.bucket,
        scripts_prefix=run_prefix(t.cluster.name, d.run_id), cluster_name=t.cluster.name,
        template_name=prepared.ref.name, fingerprint=prepared.fingerprint, pctl_version=__version__,
        software_mode=prepared.software_mode, account_id=d.account_id, key_name=t.cluster.key_name,
        ssh_allowed_cidr=d.ssh_cidr, custom_ami=d.ami.image_id, ami_root_gb=d.ami.root_gb,
        install_minutes=(prepared.estimate.total_minutes if prepared.estimate is not None and
                         prepared.software_mode in ("boot", "layer") else None),
        status_key=software_status_key(t.cluster.name), run_id=d.run_id, offerings=d.offerings,
        extra_tags=(("pctl:run", d.run_id), ("pctl:bucket", d.bucket),
                    ("pctl:bucket-prefix", run_prefix(t.cluster.name, d.run_id)), ("pctl:os", t.cluster.os))
        + ((("pctl:key-name", t.cluster.key_name),) if t.cluster.key_name else ()),
    )
    rendered = render_config(t, ctx)
    stack_template = cluster_stack.template(t.cluster.name, rendered.policies, network_export=d.network_export,
                                            run_id=d.run_id)
    stack_tags = cluster_stack.tags(t.cluster.name, d.run_id, network_export=d.network_export,
                                    extra={"pctl:template": prepared.ref.name[:256]})
    return Build(ctx=ctx, rendered=rendered, stack_template=stack_template, stack_tags=stack_tags)


def plan_dict(prepared: Prepared, d: Decisions, b: Build, *, dry_run: bool) -> dict:
    from pctl.template.trust import summary as trust_summary

    t = prepared.template
    rendered = b.rendered
    est = prepared.estimate
    software = {
        "mode": prepared.software_mode,
        "root": rules.SOFTWARE_ROOT,
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
        software["from_source"] = [p.name for p in prepared.verdict.from_source]  # as pctl validate says
    notes = list(rendered.notes)
    if getattr(t.software, "install", None) == "ami" and not prepared.custom_ami:
        notes.append("software.install: ami: create uses the AMI 'pctl ami build' made for this software "
                     f"(fingerprint {prepared.fingerprint[:12]}) and stops if there is none yet")
    from pctl.render.iam import actions_by_resource
    from pctl.template.mount_access import mount_access_summary

    return {
        "template": {"source": prepared.ref.display, "name": prepared.ref.name, "fingerprint": prepared.fingerprint},
        "cluster": {"name": t.cluster.name, "region": d.region, "os": t.cluster.os, "arch": t.arch,
                    "custom_ami": prepared.custom_ami, "key_name": t.cluster.key_name},
        "network": dict(d.network_plan),
        "head_node": {"instance_type": t.compute.head_node, "subnet": d.network.head.id, "zone": d.network.head.zone,
                      "ssh_from": d.ssh_cidr or d.ssh_source, "ssh_source": d.ssh_source,
                      "root_volume_gb": rendered.root_volumes.get("head")},
        "ami": {"image_id": d.ami.image_id, "source": d.ami.source, "root_gb": d.ami.root_gb},
        "queues": [{
            "name": q.name, "capacity": q.capacity, "min_count": q.min_count, "max_count": q.max_count,
            "subnets": q.placement.subnets, "zones": q.placement.zones, "placement": q.placement.reason,
            "root_volume_gb": rendered.root_volumes.get(q.name),
            "compute_resources": [{"name": c.name, "instance_types": c.instance_types, "min_count": c.min_count,
                                   "max_count": c.max_count} for c in q.compute_resources],
            "notes": q.notes,
        } for q in rendered.queues],
        "storage": [{"name": s["Name"], "type": s["StorageType"], "mount_point": s["MountDir"],
                     "settings": next((v for k, v in s.items() if k.endswith("Settings")), {})}
                    for s in rendered.config.get("SharedStorage", [])],
        "s3_mounts": [{"bucket": m.bucket, "prefix": m.prefix, "mount_point": m.mount_point,
                       "read_only": m.read_only, "requester_pays": m.requester_pays, **mount_access_summary(t, m)}
                      for m in t.data.s3_mounts],
        "iam": [{"name": p.name, "role": p.role, "statements": len(p.document["Statement"]),
                 "allows": sorted(f"{a} {r}" for a, r, _c in actions_by_resource(p.document))}
                for p in rendered.policies],
        "users": [{"name": u.name, "uid": u.uid, "gid": u.primary_gid, "groups": list(u.groups), "sudo": u.sudo}
                  for u in t.users],
        "groups": [{"name": g.name, "gid": g.gid} for g in t.groups],
        "trust": trust_summary(t),  # sudo users and their keys' fingerprints, every Spack mirror, signed or not
        "software": software,
        "bucket": {"name": d.bucket, "prefix": b.ctx.scripts_prefix, "objects": sorted(prepared.scripts),
                   "note": "private, encrypted, TLS-only" + ("; ACCOUNT is your AWS account id" if dry_run else "")},
        "stacks": {"cluster": b.stack_tags.get("pctl:cluster") and f"pctl-cluster-{t.cluster.name}",
                   "parallelcluster": t.cluster.name, "network": d.network_plan.get("stack")},
        "head_bootstrap_timeout": rendered.head_bootstrap_timeout,
        "lookups": list(d.lookups) if dry_run else [],
        "notes": notes,
        "warnings": [w.format() for w in prepared.warnings],
    }


def dry_run(opts: CreateOptions, *, catalog=None, use_catalog: bool = True, lookup: bool = False,
            profile: str | None = None) -> dict:
    """Everything create would submit, as data. Without `lookup`: no credentials needed, and no AWS call unless the
    template names a custom AMI: then its tags are read when credentials allow (one read-only call), so that the
    plan makes create's software decision (what the AMI holds, what is installed at boot)."""
    prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog)
    if prepared.custom_ami and not lookup:
        from pctl.software.lookup import lookup_for_plan

        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog,
                           ami=lookup_for_plan(prepared.custom_ami, default_region(prepared.template) or "us-east-1",
                                               profile))
    if lookup:
        from pctl.cluster.create import resolve_decisions

        prepared, d = resolve_decisions(prepared, opts, profile=profile, catalog=catalog, use_catalog=use_catalog,
                                        make=False)
    else:
        d = placeholder_decisions(prepared, opts)
    b = build(prepared, d)
    plan = plan_dict(prepared, d, b, dry_run=True)
    from pctl.cost.checks import plan_cost  # idle/full-scale cost and the budget check

    plan["cost"] = plan_cost(prepared.template, b.rendered.config, d.region, public_only=opts.public_only,
                             subnet_id=prepared.template.networking.subnet_id)
    if not default_region(prepared.template) and not lookup:
        plan["notes"].insert(0, "no region in the template, --region or AWS_REGION: showing us-east-1")
    return {"dry_run": True, "plan": plan, "config": b.rendered.config, "scripts": prepared.scripts,
            "cluster_stack": b.stack_template}
