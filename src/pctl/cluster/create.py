"""`pctl create`: pre-flight -> network -> the cluster's pctl stack -> bootstrap files -> ParallelCluster, and on
failure the undo of exactly what this run made.

The config handed to ParallelCluster comes from `pctl.cluster.plan.build`, the function the dry run uses; the
only differences are the values resolved here from AWS (account, subnets, zones, AMI, address, run id).
Library code: progress goes to a callback, questions to a `confirm` callback; nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from pctl.errors import PctlError

Say = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


# ------------------------------------------------------------------ what AWS tells create

def detect_public_cidr(timeout: float = 5.0) -> str | None:
    """Caller's public IPv4 as /32 (checkip.amazonaws.com); None when it cannot be found."""
    import ipaddress
    import urllib.request

    try:
        with urllib.request.urlopen("https://checkip.amazonaws.com", timeout=timeout) as r:  # noqa: S310
            ip = ipaddress.ip_address(r.read().decode().strip())
        return f"{ip}/32" if ip.version == 4 else f"{ip}/128"
    except Exception:
        return None


def resolve_ami(aws, ref: str, pcluster_version: str | None) -> tuple[str, dict]:
    """(image id, tags) of an AMI id or of the name given to `pctl ami build --name`."""
    from pctl.aws import ec2

    img = resolve_image(aws, ref, pcluster_version)
    return img["ImageId"], ec2.image_tags(img)


def resolve_image(aws, ref: str, pcluster_version: str | None) -> dict:
    """An AMI id, or the name given to `pctl ami build --name` (also written ami-NAME): the available image."""
    from pctl.aws import ec2
    from pctl.template import rules

    if rules.AMI_ID_RE.fullmatch(ref):
        img = ec2.image(aws, ref)
        imgs = [img] if img else []
    else:
        names = [ref] + ([ref[4:]] if ref.startswith("ami-") else [])
        imgs = ec2.own_images(aws, [{"Name": "tag:pctl:name", "Values": names}]) or \
            ec2.own_images(aws, [{"Name": "name", "Values": names}])
    if not imgs:
        build = None if rules.AMI_ID_RE.fullmatch(ref) else _build_named(aws, names)
        if build and build.get("status") != "failed":
            bid = build["build_id"]
            raise PctlError(f"AMI {ref!r} is not made yet: its build {bid} is {build.get('status') or 'running'}"
                            + (f" (step {build['step']})" if build.get("step") else ""),
                            hint=f"wait for it: pctl ami status {bid} --watch (exit 0 when it is available), then "
                                 "run this create again")
        if build:
            raise PctlError(f"no AMI {ref!r}: its build {build['build_id']} failed",
                            hint=f"see why: pctl ami status {build['build_id']}; build again: pctl ami build -t "
                                 f"TEMPLATE --name {ref}")
        raise PctlError(f"no AMI found for {ref!r} in {aws.region}",
                        hint="list pctl AMIs with 'pctl ami list'; build one with 'pctl ami build -t TEMPLATE --name NAME'")
    available = [i for i in imgs if i.get("State", "available") == "available"]
    if not available:
        img = sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1]
        tags = ec2.image_tags(img)
        build = tags.get("pctl:build-id")
        state = img.get("State", "?")
        raise PctlError(f"AMI {img['ImageId']} ({ref}) is {state}, not available yet",
                        hint=(f"its build {build} is still running: pctl ami status {build} --watch" if build and
                              state == "pending" else "wait until it is available (pctl ami list), or rebuild it"))
    img = sorted(available, key=lambda i: i.get("CreationDate", ""))[-1]
    tags = ec2.image_tags(img)
    built_for = tags.get("pctl:pcluster-version") or tags.get("parallelcluster:version")
    if built_for and pcluster_version and built_for != pcluster_version:
        raise PctlError(f"AMI {img['ImageId']} was built for ParallelCluster {built_for}, but pctl uses {pcluster_version}",
                        hint=f"rebuild it: pctl ami build -t TEMPLATE --force, or install aws-parallelcluster=={built_for}")
    return img


def _build_named(aws, names: list[str]) -> dict | None:
    """The latest `pctl ami build` record with this --name (the image exists only at its end)."""
    from pctl.ami.store import BuildStore

    try:
        records = BuildStore(aws).records()
    except PctlError:
        return None  # no build bucket, or no right to read it: the plain "no AMI found" stands
    named = [r for r in records if r.get("name") in names or r.get("ami_name") in names]
    return named[-1] if named else None


def find_matching_ami(aws, fingerprint: str, pcluster_version: str | None) -> str | None:
    """The id of an available pctl AMI whose software fingerprint matches the template."""
    img = find_matching_image(aws, fingerprint, pcluster_version)
    return img["ImageId"] if img else None


def find_matching_image(aws, fingerprint: str, pcluster_version: str | None) -> dict | None:
    """An available pctl AMI whose software fingerprint matches the template (built by `pctl ami build`)."""
    from pctl.aws import ec2

    filters = [{"Name": "tag:pctl:fingerprint", "Values": [fingerprint]}, {"Name": "state", "Values": ["available"]}]
    if pcluster_version:
        filters.append({"Name": "tag:pctl:pcluster-version", "Values": [pcluster_version]})
    imgs = ec2.own_images(aws, filters)
    return sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1] if imgs else None


# ------------------------------------------------------------------ pre-flight

@dataclass
class Preflight:
    account_id: str
    pcluster_version: str | None
    checks: list[str] = field(default_factory=list)


def check_node() -> str:
    """ParallelCluster synthesizes its stack with the AWS CDK, which needs Node.js."""
    from pctl import nodejs

    node = nodejs.find()
    if not node.usable:
        raise PctlError(f"ParallelCluster needs Node.js to build the cluster's CloudFormation template: {node.problem}",
                        hint=nodejs.INSTALL_HINT)
    return node.version + (f" ({node.advice})" if node.advice else "")


def preflight(aws, prepared, opts) -> Preflight:
    """Everything that can be checked before anything is made. Each failure is a clear error with the fix."""
    import importlib.util

    from pctl.aws import cloudformation as cfn
    from pctl.aws import ec2, sts
    from pctl.aws.pcluster import install_hint, version
    from pctl.cluster import stack as cluster_stack

    t = prepared.template
    account = sts.account_id(aws)  # credentials: missing or expired is a clear error here
    checks = [f"credentials: account {account}"]
    if importlib.util.find_spec("pcluster") is None:
        raise PctlError("AWS ParallelCluster is not installed: pctl needs it to create clusters",
                        hint=install_hint())
    pc_version = version()
    checks.append(f"ParallelCluster {pc_version}")
    checks.append(f"Node.js {check_node()}")
    if t.cluster.key_name:
        if not ec2.key_pair_exists(aws, t.cluster.key_name):
            from pctl.template.rules import did_you_mean

            names = ec2.key_pair_names(aws)
            guess = did_you_mean(t.cluster.key_name, names)
            raise PctlError(f"key pair {t.cluster.key_name!r} does not exist in {aws.region}"
                            + (f"; did you mean {guess!r}?" if guess else ""),
                            hint=("key pairs here: " + ", ".join(names[:10]) if names else
                                  "create one: aws ec2 create-key-pair --key-name NAME --query KeyMaterial "
                                  "--output text > ~/.ssh/NAME.pem") + "; then pass --key-name")
        checks.append(f"key pair {t.cluster.key_name}")
    types = [t.compute.head_node] + [it for q in t.compute.queues for it in q.instance_types]
    offered = ec2.offered_types(aws, types)
    missing = sorted(set(types) - offered)
    if missing:
        raise PctlError(f"instance type(s) not offered in {aws.region}: {', '.join(missing)}",
                        hint="choose types this region offers (aws ec2 describe-instance-type-offerings), or another "
                             "region with --region")
    checks.append(f"{len(set(types))} instance type(s) offered in {aws.region}")
    name = t.cluster.name
    if cfn.describe_stack(aws, name) is not None:
        raise PctlError(f"a cluster named {name!r} already exists in {aws.region}",
                        hint=f"choose another name with --name, or delete it first: pctl delete {name}")
    own = cfn.describe_stack(aws, cluster_stack.stack_name(name))
    if own is not None:
        run = cfn.tags_of(own).get("pctl:run", "?")
        raise PctlError(f"another create of {name!r} is running or was interrupted (run {run}, stack "
                        f"{own['StackName']} is {own['StackStatus']})",
                        hint=f"wait for it, or remove what it left: pctl delete {name}")
    checks.append(f"name {name} is free")
    return Preflight(account_id=account, pcluster_version=pc_version, checks=checks)


# ------------------------------------------------------------------ decisions

def resolve_decisions(prepared, opts, *, profile=None, catalog=None, use_catalog=True, make: bool = True,
                      aws=None, pre: Preflight | None = None, say: Say = _quiet):
    """Resolve with AWS what the dry run shows as placeholders. make=False (dry run --lookup) only looks:
    the network is described, not created; the address is detected; nothing is written."""
    from pctl.aws import ec2, sts
    from pctl.aws.pcluster import version as pcluster_version
    from pctl.cluster.plan import AmiChoice, Decisions, default_region, layout_from_network, prepare, ssh_choice
    from pctl.network import stack as network_stack
    from pctl.network.template import export_name, stack_name
    from pctl.render.pcluster import NetworkLayout, Subnet

    t = prepared.template
    if aws is None:
        from pctl.aws import Aws

        aws = Aws(profile=profile, region=default_region(t))
    lookups: list[str] = []
    account = pre.account_id if pre else sts.account_id(aws)
    pc_version = pre.pcluster_version if pre else pcluster_version()
    # the AMI: given, or one already built for exactly this software
    ami = AmiChoice(None, "official")
    if prepared.custom_ami:
        img = resolve_image(aws, prepared.custom_ami, pc_version)
        ami = AmiChoice(img["ImageId"], "custom", root_gb=ec2.image_root_gb(img), tags=ec2.image_tags(img))
        from pctl.software.lookup import manifest_for  # install at boot only what the AMI lacks

        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog,
                           ami=(img["ImageId"], manifest_for(aws, img["ImageId"], ami.tags, name=img.get("Name", ""))))
        say(f"software: {prepared.software.summary()} (AMI {img['ImageId']})")
        for w in prepared.software.warnings:
            say(f"warning: {w}")
    elif prepared.software_mode == "boot":
        img = find_matching_image(aws, prepared.fingerprint, pc_version)
        if img is not None:
            say(f"using AMI {img['ImageId']}: it already has this template's software (fingerprint "
                f"{prepared.fingerprint[:12]})")
            ami = AmiChoice(img["ImageId"], "matching", root_gb=ec2.image_root_gb(img), tags=ec2.image_tags(img))
        elif getattr(prepared.template.software, "install", None) == "ami":  # the template says: never at boot
            raise PctlError(f"{prepared.ref.display} installs its software from an AMI (software.install: ami), and "
                            f"no AMI has this software yet (fingerprint {prepared.fingerprint[:12]}, ParallelCluster "
                            f"{pc_version})", hint=f"build it once: pctl ami build -t {opts.template}")
    if ami.image_id and ami.source == "matching" and prepared.software_mode != "ami":  # found by fingerprint
        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog, software_mode="ami")
    # who may SSH
    cidr, source = ssh_choice(opts, t)
    if cidr is None:
        cidr = detect_public_cidr()
        if cidr is None:
            raise PctlError("could not detect your public IP address to restrict SSH to it",
                            hint="pass --ssh-cidr 203.0.113.0/24 (your site's addresses), or set "
                                 "networking.ssh_allowed_cidr in the template")
        source = "your public IP address (detected)"
    # the network
    export = None
    made_network = None
    if t.networking.subnet_id:
        (info,) = ec2.subnets(aws, [t.networking.subnet_id])
        sub = Subnet(info["id"], info["zone"], public=info["public"])
        layout = NetworkLayout(head=sub, compute=(sub,), source="existing")
        network_plan = {"mode": "existing", "subnet_id": info["id"], "zone": info["zone"], "vpc": info["vpc"]}
    else:
        wanted = [t.compute.head_node] + [it for q in t.compute.queues for it in q.instance_types]
        net = network_stack.ensure(aws, public_only=opts.public_only, progress=say, types=wanted) if make else \
            network_stack.describe(aws)
        if net is None or not net.public_subnets:
            zones = ec2.availability_zones(aws)[:2]
            from pctl.cluster.plan import PLACEHOLDER_PRIVATE, PLACEHOLDER_PUBLIC

            pub = [Subnet(s, z, public=True) for s, z in zip(PLACEHOLDER_PUBLIC, zones)]
            priv = [Subnet(s, z) for s, z in zip(PLACEHOLDER_PRIVATE, zones)]
            layout = NetworkLayout(head=pub[0], compute=tuple(pub if opts.public_only else priv), source="pctl")
            network_plan = {"mode": "pctl", "region": aws.region, "stack": stack_name(aws.region),
                            "zones": zones, "public_only": opts.public_only,
                            "description": "pctl network (CloudFormation stack)", "reused": "created by create"}
            lookups.append(f"no pctl network in {aws.region} yet: create makes the stack {stack_name(aws.region)}")
            export = export_name(aws.region, "VpcId")
        else:
            made_network = net if net.created else None
            layout = layout_from_network(net, public_only=opts.public_only)
            export = None if net.legacy else export_name(aws.region, "VpcId")
            network_plan = {"mode": "pctl", "region": aws.region, "stack": net.stack, "vpc": net.vpc_id,
                            "zones": layout.zones or [z for _, z in net.public_subnets],
                            "public_only": opts.public_only or net.public_only, "legacy": net.legacy,
                            "description": "pctl network" + (" made by an earlier pctl (no stack)" if net.legacy
                                                             else f" (stack {net.stack})"),
                            "reused": "created by this run" if net.created else "reused"}
    types = sorted({t.compute.head_node} | {it for q in t.compute.queues for it in q.instance_types})
    d = Decisions(region=aws.region, account_id=account, bucket=f"pctl-{account}-{aws.region}", network=layout,
                  network_plan=network_plan, ssh_cidr=cidr, ssh_source=source, ami=ami, run_id="",
                  lookups=lookups, network_export=export, offerings=ec2.zones_offering(aws, types))
    d.made_network = made_network  # type: ignore[attr-defined]
    return prepared, d


# ------------------------------------------------------------------ undo

class Undo:
    """What this run made, undone newest first. A second Ctrl-C stops the undo and reports what is left, with the
    command that removes it."""

    def __init__(self, say: Say):
        self.say = say
        self.steps: list[tuple[str, Callable[[], object], str]] = []

    def add(self, what: str, fn: Callable[[], object], command: str) -> None:
        self.steps.append((what, fn, command))

    def run(self) -> list[dict]:
        left: list[dict] = []
        pending = list(reversed(self.steps))
        while pending:
            what, fn, command = pending.pop(0)
            try:
                result = fn()
                self.say(f"rolled back {what}" + (f": {result}" if isinstance(result, str) and result else ""))
                if isinstance(result, str) and result.startswith("kept"):
                    left.append({"what": what, "why": result, "command": command})
            except KeyboardInterrupt:
                left += [{"what": w, "why": "interrupted", "command": c} for w, _f, c in [(what, fn, command)] + pending]
                pending = []
            except Exception as exc:  # keep going: report what is left
                left.append({"what": what, "why": getattr(exc, "message", str(exc)), "command": command})
        self.steps = []
        return left


# ------------------------------------------------------------------ create

def create_cluster(opts, *, catalog=None, use_catalog=True, profile=None, wait=True, rollback=True, poll=15.0,
                   say: Say = _quiet, confirm: Callable[[str], bool] | None = None, yes: bool = False) -> dict:
    from pctl import __version__
    from pctl.aws import Aws
    from pctl.aws import cloudformation as cfn
    from pctl.aws import pcluster
    from pctl.aws.s3 import delete_prefix, ensure_bucket, upload
    from pctl.cluster import messages, sshconfig
    from pctl.cluster import stack as cluster_stack
    from pctl.cluster.plan import build, default_region, new_run_id, plan_dict, prepare, run_prefix
    from pctl.network import stack as network_stack

    prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog)
    t = prepared.template
    aws = Aws(profile=profile, region=default_region(t))
    name = t.cluster.name
    pre = preflight(aws, prepared, opts)
    for c in pre.checks:
        say(f"pre-flight: {c}")
    from pctl.cost import lifecycle as cost_lifecycle  # prices, estimate, budget gate (before anything exists)

    cost_estimate = cost_lifecycle.before_create(aws, prepared, region=aws.region, public_only=opts.public_only,
                                                 yes=yes, progress=lambda m: say(f"  {m}"))
    run_id = new_run_id()
    undo = Undo(say)
    stage = "before"
    left: list[dict] = []
    try:
        prepared, d = resolve_decisions(prepared, opts, catalog=catalog, use_catalog=use_catalog, aws=aws, pre=pre,
                                        say=say)
        d.run_id = run_id
        made_net = getattr(d, "made_network", None)
        if made_net is not None:
            undo.add(f"the pctl network {made_net.stack}",
                     lambda: network_stack.release(aws, made_net, progress=say, poll=min(poll, 5.0)),
                     f"pctl network delete --region {aws.region}")
        b = build(prepared, d)
        # the cluster's own stack: claims the name, holds the node policies, imports the network
        cluster_stack_name = cluster_stack.stack_name(name)
        try:
            cfn.create_stack(aws, cluster_stack_name, b.stack_template, tags=b.stack_tags,
                             capabilities=cluster_stack.CAPABILITIES)
        except cfn.StackExists:
            raise PctlError(f"another create of {name!r} started at the same time; this one stops",
                            hint=f"watch the other one: pctl status {name}") from None

        def drop_cluster_stack():
            cfn.delete_stack(aws, cluster_stack_name)
            final = cfn.wait(aws, cluster_stack_name, until=frozenset({"DELETE_COMPLETE"}), poll=min(poll, 5.0))
            return "" if final is None else f"kept: {cfn.failure_reason(aws, cluster_stack_name)}"

        undo.add(f"stack {cluster_stack_name}", drop_cluster_stack, f"pctl delete {name}")
        made = cfn.wait(aws, cluster_stack_name, poll=min(poll, 5.0), progress=say)
        if made is None or made["StackStatus"] not in cfn.DONE:
            raise PctlError(f"could not create {cluster_stack_name}: "
                            f"{cfn.failure_reason(aws, cluster_stack_name) or (made or {}).get('StackStatus')}")
        bucket = ensure_bucket(aws)
        prefix = run_prefix(name, run_id)
        undo.add(f"s3://{bucket}/{prefix}", lambda: delete_prefix(aws, bucket, prefix) and None,
                 f"pctl cleanup --region {aws.region}")
        import json

        upload(aws, bucket, prefix, dict(prepared.scripts))
        # the cluster's record, where `pctl status` and region discovery (pctl.regions) find it; this run holds
        # the name (its cluster stack), so no other run writes or removes it
        record_key = f"clusters/{name}/cluster.json"
        upload(aws, bucket, f"clusters/{name}/", {"cluster.json": json.dumps(
            dict(cluster_summary(prepared, b.rendered, run_id), name=name, region=aws.region), indent=2)})
        undo.add(f"s3://{bucket}/{record_key}", lambda: delete_prefix(aws, bucket, record_key) and None,
                 f"pctl cleanup --region {aws.region}")
        say(f"uploaded {len(prepared.scripts)} bootstrap file(s) to s3://{bucket}/{prefix}")
        saved = save_run(run_id, b, plan_dict(prepared, d, b, dry_run=False))
        say(f"creating cluster {name} with ParallelCluster {pre.pcluster_version or '?'} (config: {saved})")
        stage = "pcluster"
        result = pcluster.create_cluster(aws, name, b.rendered.config, rollback=rollback,
                                         suppress=opts.suppress_validators)
        if not result.ok:
            found = messages.translate(result.validation, t, b.rendered.config)
            errors = [m for m in found if m["level"] == "ERROR"]
            lines = "\n".join(messages.format_line(m) for m in errors)
            kind = "refused the configuration" if result.code == 400 else "could not create the cluster"
            raise PctlizedFailure(f"ParallelCluster {kind}: {result.message}" + (f"\n{lines}" if lines else ""),
                                  diagnostics=found,
                                  hint=(("fix the template fields named above, or pass --suppress-validators "
                                         "type:NAME for a check that does not apply") if errors else
                                        f"ParallelCluster's own log: {pcluster.log_path()}")
                                  + f"; the config it was given: {saved}")
        stage = "started"
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        if stage == "pcluster" and interrupted and pcluster_stack_exists(aws, name):
            stage = "started"
        if stage == "started":  # ParallelCluster's stack exists: never pull the network or policies from under it
            raise PctlError(f"interrupted: cluster {name} goes on being created by CloudFormation without pctl",
                            hint=f"watch it: pctl status {name}; remove it and everything pctl made for it: "
                                 f"pctl delete {name}", exit_code=130) from None
        say("rolling back what this run made" + (" (Ctrl-C again stops the roll-back)" if interrupted else ""))
        left = undo.run()
        if left:
            detail = "; ".join(f"{x['what']} ({x['why']})" for x in left)
            cmds = sorted({x["command"] for x in left})
            if isinstance(exc, PctlError):
                exc.hint = ((exc.hint + "; ") if exc.hint else "") + f"left behind: {detail}; remove with: " + \
                    " and ".join(cmds)
            else:
                say(f"left behind: {detail}; remove with: {' and '.join(cmds)}")
        raise
    record = {"name": name, "region": aws.region, "status": result.status, "template": prepared.ref.name,
              "fingerprint": prepared.fingerprint, "software": prepared.software_mode, "ami": d.ami.image_id,
              "bucket": bucket, "prefix": prefix, "run": run_id, "pctl_version": __version__,
              "stacks": {"parallelcluster": name, "cluster": cluster_stack_name,
                         "network": d.network_plan.get("stack")},
              "validation": messages.translate(result.validation, t, b.rendered.config),
              "plan": plan_dict(prepared, d, b, dry_run=False), "config": b.rendered.config,
              "config_file": str(saved),
              "software_plan": prepared.software.to_dict() if prepared.software is not None else None}
    if not wait:
        return record
    try:
        status = wait_for(aws, name, ("CREATE_COMPLETE",), ("CREATE_FAILED",), poll=poll, say=say)
    except KeyboardInterrupt:
        raise PctlError(f"stopped waiting: cluster {name} goes on being created by CloudFormation",
                        hint=f"watch it: pctl status {name}; remove it: pctl delete {name}", exit_code=130) from None
    record["status"] = status
    if status == "CREATE_FAILED":
        reason = cfn.failure_reason(aws, name)
        if not rollback:
            raise PctlError(f"cluster {name} failed to create" + (f": {reason}" if reason else "")
                            + "; everything was kept for debugging (--no-rollback)",
                            hint=f"see 'pctl status {name}'; remove it with 'pctl delete {name}'")
        say(f"cluster {name} failed to create: removing it and what pctl made for it")
        from pctl.cluster.ops import delete_cluster

        try:
            delete_cluster(aws, name, yes=True, poll=poll, say=say, delete_network=made_net is not None)
        except PctlError as exc:
            raise PctlError(f"cluster {name} failed to create" + (f": {reason}" if reason else "")
                            + f"; the clean-up stopped: {exc.message}", hint=f"run 'pctl delete {name}'") from None
        raise PctlError(f"cluster {name} failed to create" + (f": {reason}" if reason else "")
                        + "; everything this run made was removed", hint="fix the cause and run create again")
    info = pcluster.describe_cluster(aws, name) or {}
    head = info.get("headNode", {}) if isinstance(info, dict) else {}
    addr = head.get("publicIpAddress") or head.get("privateIpAddress")
    record["head_node"] = addr
    if addr:
        from pctl.template.rules import DEFAULT_USER

        user = DEFAULT_USER[t.cluster.os]
        record["ssh"] = f"ssh {user}@{addr}"
        try:
            host = sshconfig.add_host(name, addr, user, consent=True if yes else (confirm or False))
            if host.added and host.included and not host.shadowed_by:
                record["ssh"] = f"ssh {name}"
            if host.shadowed_by:
                say(f"note: your own ~/.ssh/config entry 'Host {host.shadowed_by[0]}' also matches {name} and wins "
                    f"over pctl's; use 'pctl ssh {name}'")
        except OSError:
            pass
    # issue 15: the AWS Budget and the idle timer (reported, never fatal: the cluster exists)
    record["cost"] = dict(cost_lifecycle.after_create(aws, prepared, region=aws.region, bucket=bucket,
                                                      estimate=cost_estimate, progress=lambda m: say(f"  {m}")),
                          idle_hourly=cost_estimate["idle_hourly"], idle_monthly=cost_estimate["idle_monthly"],
                          full_scale_hourly=cost_estimate["full_scale_hourly"], prices=cost_estimate["prices"])
    for problem in record["cost"]["problems"]:
        say(f"warning: {problem}")
    return record


def save_run(run_id: str, b, plan: dict):
    """Keep what this run submits on this machine (cache/runs/<run>/): the config ParallelCluster was given, the
    cluster stack and the plan. It outlives a failed create, for debugging; it is only a copy."""
    import json

    from pctl.fsio import atomic_write
    from pctl.paths import cache_dir
    from pctl.render.pcluster import to_yaml

    d = cache_dir() / "runs" / run_id
    try:
        atomic_write(d / "cluster-config.yaml", to_yaml(b.rendered.config))
        atomic_write(d / "cluster-stack.json", json.dumps(b.stack_template, indent=2) + "\n")
        atomic_write(d / "plan.json", json.dumps(plan, indent=2, default=str) + "\n")
    except OSError:
        return "(not saved: cache not writable)"
    return d / "cluster-config.yaml"


class PctlizedFailure(PctlError):
    """ParallelCluster refused: its messages in pctl's terms ({level, validator, path, message, hint})."""

    def __init__(self, message: str, *, diagnostics: list[dict], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.diagnostics = diagnostics

    def to_dict(self) -> dict:
        return {"diagnostics": self.diagnostics}


def pcluster_stack_exists(aws, name: str) -> bool:
    from pctl.aws import cloudformation as cfn

    try:
        return cfn.describe_stack(aws, name) is not None
    except Exception:
        return True  # when in doubt, do not pull anything from under a cluster


def cluster_summary(prepared, rendered, run_id: str = "") -> dict:
    """What `pctl status` shows beyond ParallelCluster's view: mounts, storage, users, queues, software."""
    from pctl.template.mount_access import mount_access_summary

    t = prepared.template
    return {
        "template": prepared.ref.name, "fingerprint": prepared.fingerprint, "software_mode": prepared.software_mode,
        "run": run_id, "packages": list(t.software.spack_packages),
        "software_plan": prepared.software.to_dict() if prepared.software is not None else None,
        "s3_mounts": [{"bucket": m.bucket, "prefix": m.prefix, "mount_point": m.mount_point, "read_only": m.read_only,
                       **mount_access_summary(t, m)} for m in t.data.s3_mounts],
        "shared_storage": [{"name": s["Name"], "type": s["StorageType"], "mount_point": s["MountDir"]}
                           for s in rendered.config.get("SharedStorage", [])],
        "users": [{"name": u.name, "uid": u.uid, "gid": u.primary_gid} for u in t.users],
        "queues": [{"name": q.name, "capacity": q.capacity, "min_count": q.min_count, "max_count": q.max_count,
                    "zones": q.placement.zones if q.placement else []}
                   for q in rendered.queues],
    }


def wait_for(aws, name: str, done: tuple, failed: tuple, *, poll: float = 15.0, timeout: float = 4 * 3600,
             say: Say = _quiet) -> str:
    """Poll ParallelCluster for the cluster's status, reporting its stack's events on the way."""
    from pctl.aws import cloudformation as cfn
    from pctl.aws import pcluster

    start = time.monotonic()
    last = None
    seen: set = set()
    while True:
        info = pcluster.describe_cluster(aws, name)
        status = (info or {}).get("clusterStatus") if info is not None else "DELETE_COMPLETE"
        elapsed = int(time.monotonic() - start)
        for e in reversed(cfn.events(aws, name) if info is not None else []):
            if e.get("EventId") in seen:
                continue
            seen.add(e.get("EventId"))
            if e.get("LogicalResourceId") == e.get("StackName"):
                continue  # the stack's own status: shown below as the cluster's
            reason = f" ({e['ResourceStatusReason']})" if e.get("ResourceStatusReason") else ""
            say(f"  [{elapsed:>5d} s]   {e.get('LogicalResourceId')}: {e.get('ResourceStatus')}{reason}")
        if status != last:
            say(f"  [{elapsed:>5d} s] {name}: {status}")
        last = status
        if status in done or status in failed:
            return status
        if time.monotonic() - start > timeout:
            raise PctlError(f"gave up waiting for {name} after {timeout / 3600:.1f} h (status {status})",
                            hint=f"check later with 'pctl status {name}'")
        time.sleep(poll)
