"""Start an AMI build: reuse by fingerprint first, then launch one locked-down builder instance.

The launch makes: the build's S3 objects (record, config, agent, software script), a per-build IAM
role and instance profile, and the instance (official ParallelCluster AMI, IMDSv2 only, a security
group with no inbound rules and no key pair, encrypted root volume, shutdown behaviour terminate,
``shutdown -h +N`` lifetime limit at boot). If the launch fails, what it made is removed and the
record says ``failed`` at step ``launch``. From then on the agent on the instance owns the build.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from pctl.ami import estimates
from pctl.ami.store import INPUTS, BuildStore, iso, prefix_of, utcnow
from pctl.aws import ec2
from pctl.aws.errors import AwsError
from pctl.errors import PctlError, UsageError

AGENT_FILE = Path(__file__).with_name("agent.py")
DEFAULT_INSTANCE_TYPE = {"x86_64": "c6i.4xlarge", "arm64": "c7g.4xlarge"}
SG_NAME = "pctl-ami-builder"
PROFILE_RETRY_SECONDS = 90


@dataclass(frozen=True)
class BuildOptions:
    template: str
    name: str | None = None
    force: bool = False
    instance_type: str | None = None
    subnet_id: str | None = None
    notify_webhook: str | None = None
    region: str | None = None
    max_hours: float = estimates.DEFAULT_MAX_HOURS
    #: Where on-instance paths live (normally /). Tests set a directory so the agent and the
    #: software script can run on the test machine exactly as they would on the builder.
    builder_root: str = "/"


def _say(progress, msg: str) -> None:
    if progress:
        progress(msg)


def _check_options(opts: BuildOptions) -> None:
    from pctl.ami.agent import webhook_allowed
    from pctl.template import rules

    if opts.name is not None and not rules.AMI_NAME_RE.match(opts.name):
        raise UsageError(f"--name: {opts.name!r} is not a usable AMI name (letters, digits, . _ -; at most 128)")
    if opts.subnet_id is not None and not rules.SUBNET_RE.match(opts.subnet_id):
        raise UsageError(f"--subnet-id: {opts.subnet_id!r} is not a subnet id (subnet-0123456789abcdef0)")
    if opts.notify_webhook is not None and not webhook_allowed(opts.notify_webhook):
        raise UsageError(f"--notify-webhook: {opts.notify_webhook!r} must be an https:// URL")
    if not 0.5 <= opts.max_hours <= 48:
        raise UsageError("--max-hours must be between 0.5 and 48")
    root = opts.builder_root
    if not root.startswith("/") or ".." in root.split("/"):
        raise UsageError(f"builder root must be an absolute path, not {root!r}")


def _slug(text: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return (s or "template")[:60]


def _under(root: str, path: str) -> str:
    return path if root in ("", "/") else root.rstrip("/") + path


def start_build(opts: BuildOptions, *, aws=None, profile: str | None = None, catalog=None, use_catalog: bool = True,
                progress=None) -> dict:
    """Reuse, join or launch. Returns {"action": "reused"|"in-progress"|"launched", "build_id", "region", ...}.

    Every outcome has a build id whose record is in the region's bucket: a reused AMI gets a record of its own
    (status ``available`` at once), a build of the same software already running is joined (its id). The id is
    also written to this machine's journal (:mod:`pctl.ami.journal`), so ``list-builds | tail -1`` is it."""
    from pctl.ami import journal

    result = _start_build(opts, aws=aws, profile=profile, catalog=catalog, use_catalog=use_catalog, progress=progress)
    journal.record(result["build_id"], result["region"], result["action"])
    return result


def _start_build(opts: BuildOptions, *, aws=None, profile: str | None = None, catalog=None, use_catalog: bool = True,
                 progress=None) -> dict:
    from pctl.ami.base import find_base_image
    from pctl.aws import Aws
    from pctl.cluster.create import find_matching_ami
    from pctl.cluster.plan import CreateOptions, default_region, prepare
    from pctl.render.pcluster_check import pcluster_version

    _check_options(opts)
    prepared = prepare(CreateOptions(template=opts.template, region=opts.region), catalog=catalog,
                       use_catalog=use_catalog, purpose="ami")
    t = prepared.template
    from pctl.spack.buildplan import assess

    verdict = assess(t, catalog=catalog, purpose="ami", ami_max_hours=opts.max_hours)  # validate's answer
    if verdict.problem():
        raise UsageError(f"{prepared.ref.display}: {verdict.problem()}", hint=verdict.fix(opts.template))
    if not t.software.spack_packages:
        raise PctlError(f"{prepared.ref.display} has no software.spack_packages: there is nothing to bake into an AMI",
                        hint="clusters without Spack packages start from the official ParallelCluster AMI: "
                             "pctl create -t " + opts.template)
    if t.cluster.custom_ami:
        _say(progress, f"note: cluster.custom_ami ({t.cluster.custom_ami}) is not used: a build starts from the "
                       "official ParallelCluster AMI")
    pc_version = pcluster_version()
    if not pc_version:
        from pctl.extras import install_command

        raise PctlError("aws-parallelcluster is not installed: pctl cannot tell which ParallelCluster version the AMI "
                        "is for", hint=f"install pctl's AWS support into this Python: {install_command('aws')}")
    aws = aws or Aws(profile=profile, region=opts.region or default_region(t))
    base_info = {"template": prepared.ref.name, "template_source": prepared.ref.display,
                 "fingerprint": prepared.fingerprint, "pcluster_version": pc_version, "region": aws.region}
    # 1. reuse: an available AMI with this exact software for this ParallelCluster version
    store = BuildStore(aws)
    if not opts.force:
        ami = find_matching_ami(aws, prepared.fingerprint, pc_version)
        if ami:
            record = record_reuse(aws, store, opts, prepared, ami, base_info)
            return dict(base_info, action="reused", build_id=record["build_id"], ami_id=ami, status="available",
                        record=record)
    records = store.records()
    # 2. a build of the same software already under way: follow it instead of paying twice
    if not opts.force:
        from pctl.ami.status import builder_instances, reconcile

        running = [r for r in records if r.get("fingerprint") == prepared.fingerprint
                   and r.get("pcluster_version") == pc_version and r.get("status") in ("launching", "running")]
        if running:
            insts = builder_instances(aws, [r["build_id"] for r in running])
            live = [r for r in running if reconcile(r, insts.get(r["build_id"])).get("status") != "failed"]
            if live:
                return dict(base_info, action="in-progress", build_id=live[-1]["build_id"], status=live[-1]["status"],
                            record=live[-1])
    records = [r for r in records if r.get("action") != "reused"]  # estimates learn from real builds only
    # 3. launch
    arch = t.arch
    target = prepared.software.build_target if prepared.software is not None else None
    instance_type = builder_instance_type(opts.instance_type, arch, target)
    base = find_base_image(aws, t.cluster.os, arch, pc_version)
    raw = prepared.estimate.total_minutes if prepared.estimate is not None else 0.0
    est = estimates.plan(raw, records)
    lifetime = estimates.lifetime_minutes(est["total_minutes"], opts.max_hours)
    problem = estimates.lifetime_problem(est["total_minutes"], lifetime, opts.max_hours)
    if problem and problem.level == "error":
        raise UsageError(problem.message, hint=problem.hint)
    volume = estimates.volume_gb(base["root_gb"], prepared.estimate)
    _say(progress, f"estimate: {estimates.describe(est)}")
    from pctl.cost.lifecycle import build_cost  # issue 15: what the build costs
    from pctl.ui.cost import build_cost_line

    base_info["cost"] = build_cost(aws.region, instance_type, est["total_minutes"], volume, lifetime)
    _say(progress, build_cost_line(base_info["cost"]))
    if problem:
        _say(progress, f"warning: {problem.message} ({problem.hint})")
    if target:
        _say(progress, f"CPU target: {target} (builder {instance_type})")
    _say(progress, f"base image: {base['image_id']} ({base['name']})")
    return launch(aws, opts, prepared, store=store, base=base, est=est, lifetime=lifetime, volume=volume,
                  instance_type=instance_type, pc_version=pc_version, base_info=base_info, progress=progress)


def record_reuse(aws, store: BuildStore, opts: BuildOptions, prepared, ami_id: str, base_info: dict) -> dict:
    """The record of a build that found its AMI already made: available at once, no instance, nothing to clean.
    Written to the bucket like any build's (a missing bucket is created), so every machine lists it."""
    from pctl import __version__
    from pctl.ami.ids import new_build_id

    t = prepared.template
    build_id = new_build_id(aws.region)
    now = iso()
    tags = _image_tags(aws, ami_id)
    record = dict(base_info, **{
        "schema": 1, "build_id": build_id, "action": "reused", "status": "available", "step": "done",
        "name": opts.name or tags.get("pctl:name") or _slug(prepared.ref.name), "ami_id": ami_id,
        "reused_build_id": tags.get("pctl:build-id"), "os": t.cluster.os, "arch": t.arch,
        "packages": list(t.software.spack_packages), "package_count": len(t.software.spack_packages),
        "created_at": now, "launched_at": now, "finished_at": now, "actual_minutes": 0.0,
        "bucket": store.bucket, "prefix": prefix_of(build_id), "pctl_version": __version__, "forced": False,
    })
    try:
        store.put_json(build_id, "state.json", record)
    except AwsError as exc:
        if "NoSuchBucket" not in (exc.code or "") and "NoSuchBucket" not in exc.message:
            raise
        from pctl.aws.s3 import ensure_bucket

        store.bucket = record["bucket"] = ensure_bucket(aws)
        store.put_json(build_id, "state.json", record)
    return record


def _image_tags(aws, ami_id: str) -> dict:
    return ec2.tags_of(ec2.image(aws, ami_id, missing_ok=False) or {})


def builder_instance_type(requested: str | None, arch: str, target: str | None) -> str:
    """The builder's instance type: one whose CPU runs the target (Spack runs what it builds: tests,
    configure checks), of the template's architecture."""
    from pctl.template import rules, targets

    if requested is None:
        return (targets.builder_type(target) if target else None) or DEFAULT_INSTANCE_TYPE[arch]
    if rules.instance_type_problem(requested):
        raise UsageError(f"--instance-type: {rules.instance_type_problem(requested)}")
    if rules.instance_arch(requested) != arch:
        raise UsageError(f"--instance-type {requested} is {rules.instance_arch(requested)}, but the template's "
                         f"instance types are {arch}: the AMI must be built on {arch}")
    cpu = targets.cpu_of(requested)
    if target and cpu and not targets.runs_on(target, cpu):
        raise UsageError(f"--instance-type {requested} ({targets.CPU_NAMES.get(cpu, cpu)}) cannot run code built for "
                         f"the template's CPU target {target}",
                         hint=f"leave --instance-type out (pctl picks {targets.builder_type(target)}) or choose a newer "
                              "instance type")
    return requested


def pcluster_image_id(name: str) -> str:
    """ParallelCluster's image id grammar: a letter, then letters, digits and hyphens (at most 128)."""
    import re

    s = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-")
    if not s or not s[0].isalpha():
        s = "pctl-" + s
    return s[:128]


def pcluster_tags(*, name: str, os_name: str, pc_version: str, base: dict | None) -> dict:
    """The tags ParallelCluster's own ``build-image`` gives an image (its CustomAmiTagValidator and
    AmiOsCompatibleValidator read version, build status and OS), plus the base image's component
    versions (kernel, EFA, Slurm, ...) that its ParallelClusterTag step recorded on the parent."""
    tags = {}
    for k, v in ((base or {}).get("tags") or {}).items():
        if k.startswith("parallelcluster:") and k.endswith(("_version", "bootstrap_file")):
            tags[k] = v
    tags.update({
        "parallelcluster:version": pc_version,
        "parallelcluster:os": os_name,
        "parallelcluster:build_status": "available",  # only ever seen once available; a failed build is removed
        "parallelcluster:image_id": pcluster_image_id(name),
        "parallelcluster:image_name": name,
    })
    if base and base.get("image_id"):
        tags["parallelcluster:parent_image"] = base["image_id"]
    return tags


def ami_tags(*, build_id, name, prepared, pc_version, base: dict | None = None) -> dict:
    from pctl.software.manifest import fit_tags, manifest_tags
    from pctl.spack import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
    from pctl.template.fingerprint import packages_digest

    t = prepared.template
    target = prepared.software.build_target if prepared.software is not None else None
    tags = {
        "Name": name,
        "pctl:managed": "true",
        "pctl:build-id": build_id,
        "pctl:name": name,
        "pctl:template": prepared.ref.name[:255],
        "pctl:fingerprint": prepared.fingerprint,
        "pctl:pcluster-version": pc_version,
        "pctl:os": t.cluster.os,
        "pctl:arch": t.arch,
        "pctl:spack-release": PINNED_SPACK_RELEASE,
        "pctl:packages-release": PINNED_PACKAGES_RELEASE,
        "pctl:packages-digest": packages_digest(t),
        "pctl:modules": t.software.modules,
    }
    if target:
        tags.update(manifest_tags(t.software.spack_packages, target))  # what the image holds (layers.py)
    tags.update(pcluster_tags(name=name, os_name=t.cluster.os, pc_version=pc_version, base=base))
    return fit_tags(tags)


def launch(aws, opts: BuildOptions, prepared, *, store: BuildStore, base: dict, est: dict, lifetime: int, volume: int,
           instance_type: str, pc_version: str, base_info: dict, progress=None) -> dict:
    from datetime import timedelta

    from pctl import __version__
    from pctl.ami import iam
    from pctl.ami.ids import new_build_id
    from pctl.ami.userdata import WORKDIR, render_user_data
    from pctl.aws.s3 import ensure_bucket
    from pctl.render.scripts import ScriptOptions, render_software_install
    from pctl.template import rules

    t = prepared.template
    build_id = new_build_id(aws.region)
    name = opts.name or _slug(prepared.ref.name)
    ami_name = f"{name}-{build_id}"[:128]
    root = opts.builder_root
    paths = {"root": root, "software_root": _under(root, rules.SOFTWARE_ROOT), "log_dir": _under(root, "/var/log/pctl"),
             "state_dir": _under(root, "/var/lib/pctl")}
    sw_options = ScriptOptions("ami", software_root=paths["software_root"], log_dir=paths["log_dir"],
                               state_dir=paths["state_dir"])
    software = render_software_install(t, sw_options)
    from pctl.check.ami import builder_check  # pctl check's package checks, run by the agent before imaging

    check_script, check_marker = builder_check(t, sw_options)
    created = utcnow()
    deadline = created + timedelta(minutes=lifetime)
    tags = ami_tags(build_id=build_id, name=name, prepared=prepared, pc_version=pc_version, base=base)
    bucket = ensure_bucket(aws)
    store.bucket = bucket
    prefix = prefix_of(build_id)
    record = dict(base_info, **{
        "schema": 1, "build_id": build_id, "name": name, "ami_name": ami_name, "status": "launching",
        "step": "launch", "os": t.cluster.os, "arch": t.arch, "packages": list(t.software.spack_packages),
        "package_count": len(t.software.spack_packages), "packages_digest": tags["pctl:packages-digest"],
        "spack_release": tags["pctl:spack-release"], "packages_release": tags["pctl:packages-release"],
        "target": tags.get("pctl:target"),
        "base_ami": base["image_id"], "base_ami_name": base["name"], "instance_type": instance_type,
        "volume_gb": volume, "lifetime_minutes": lifetime, "deadline": iso(deadline), "created_at": iso(created),
        "bucket": bucket, "prefix": prefix, "estimate": est, "pctl_version": __version__,
        "notify_webhook": bool(opts.notify_webhook), "forced": opts.force,
    })
    config = {
        "build_id": build_id, "template": prepared.ref.name, "ami_name": ami_name,
        "ami_description": f"pctl {prepared.ref.name}: {len(t.software.spack_packages)} Spack packages "
                           f"(ParallelCluster {pc_version}, build {build_id})",
        "tags": tags, "paths": paths, "package_count": len(t.software.spack_packages),
        "software_script": "software-install.sh", "notify_webhook": opts.notify_webhook,
        "check_script": "check.sh", "check_marker": check_marker,
        "disk_gb_needed": volume - base["root_gb"], "upload_interval": 20, "progress_interval": 5,
        "image_poll": 15, "image_timeout": 3 * 3600, "deadline": iso(deadline),
        "role_name": iam.role_name(build_id), "policy_name": iam.POLICY_NAME,
    }
    user_data = render_user_data(build_id=build_id, bucket=bucket, prefix=prefix, region=aws.region,
                                 lifetime_minutes=lifetime, workdir=_under(root, WORKDIR))
    role = None
    instance_id = None
    try:
        subnet, vpc, public = _subnet(aws, opts, progress)
        sg = ensure_builder_sg(aws, vpc, in_pctl_network=opts.subnet_id is None)
        record.update(subnet_id=subnet, security_group_id=sg)
        store.put_json(build_id, "state.json", record)
        store.put(build_id, "agent.py", AGENT_FILE.read_bytes(), content_type="text/x-python")
        store.put(build_id, "software-install.sh", software, content_type="text/x-shellscript")
        store.put(build_id, "check.sh", check_script, content_type="text/x-shellscript")
        store.put_json(build_id, "config.json", config)
        role, profile_arn = iam.create_builder_profile(aws, build_id, bucket)
        record["role_name"] = role
        _say(progress, f"instance profile {role}: may touch only this build's S3 prefix, image and instance")
        instance_id = _run_builder(aws, build_id=build_id, base=base, instance_type=instance_type, volume=volume,
                                   subnet=subnet, sg=sg, public=public, profile_arn=profile_arn, user_data=user_data,
                                   deadline=iso(deadline), template=prepared.ref.name)
        _say(progress, f"builder {instance_id} ({instance_type}) launched; lifetime limit "
                       f"{estimates.fmt_minutes(lifetime)}")
        record.update(instance_id=instance_id, launched_at=iso())
        current = store.get_json(build_id, "state.json") or {}
        if current.get("status", "launching") == "launching":  # the agent may already have taken over
            store.put_json(build_id, "state.json", record)
    except BaseException as exc:
        problems = _rollback(aws, store, build_id, role, instance_id)
        record.update(status="failed", finished_at=iso(), failure={
            "step": "launch", "message": getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}",
            "log_tail": [], "cleanup": problems})
        try:
            store.put_json(build_id, "state.json", record)
        except Exception:
            pass
        if problems:
            _say(progress, "could not remove: " + "; ".join(problems) + " (pctl ami cleanup removes them)")
        raise
    return dict(base_info, action="launched", build_id=build_id, status="launching", instance_id=instance_id,
                record=record, user_data_bytes=len(user_data.encode()))


def _subnet(aws, opts: BuildOptions, progress) -> tuple[str, str, bool]:
    if opts.subnet_id:
        subs = ec2.subnets(aws, [opts.subnet_id])
        if not subs:
            raise PctlError(f"subnet {opts.subnet_id} not found in {aws.region}")
        return opts.subnet_id, subs[0]["vpc"], False
    from pctl.network.stack import ensure as ensure_network

    _say(progress, f"network: the pctl network in {aws.region} (builder in a public subnet, no inbound traffic)")
    net = ensure_network(aws, public_only=True, progress=(lambda m: _say(progress, f"  {m}")) if progress else None)
    return net.public_subnets[0][0], net.vpc_id, True


def ensure_builder_sg(aws, vpc_id: str, *, in_pctl_network: bool) -> str:
    """A security group with no inbound rules (egress only), shared by builders in the VPC."""
    found = ec2.security_groups(aws, [{"Name": "vpc-id", "Values": [vpc_id]},
                                      {"Name": "tag:pctl:role", "Values": ["ami-builder"]}])
    if found:
        sg = found[0]
        if sg.get("IpPermissions"):
            ec2.revoke_ingress(aws, sg["GroupId"], sg["IpPermissions"])
        return sg["GroupId"]
    tags = {"Name": SG_NAME, "pctl:managed": "true", "pctl:role": "ami-builder"}
    if in_pctl_network:  # deleted together with the network (pctl network delete)
        tags["pctl:network"] = aws.region
    return ec2.create_security_group(
        aws, name=SG_NAME, vpc_id=vpc_id, tags=tags,
        description="pctl AMI builders: no inbound traffic at all; outbound for packages and S3")


def _run_builder(aws, *, build_id, base, instance_type, volume, subnet, sg, public, profile_arn, user_data, deadline,
                 template) -> str:
    from pctl.ami.iam import is_profile_propagation_error

    tags = [{"Key": "Name", "Value": f"pctl-ami-builder {build_id}"}, {"Key": "pctl:managed", "Value": "true"},
            {"Key": "pctl:role", "Value": "ami-builder"}, {"Key": "pctl:build-id", "Value": build_id},
            {"Key": "pctl:deadline", "Value": deadline}, {"Key": "pctl:template", "Value": template[:255]}]
    nic = {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg], "DeleteOnTermination": True}
    if public:
        nic["AssociatePublicIpAddress"] = True
    params = dict(
        ImageId=base["image_id"], InstanceType=instance_type,
        IamInstanceProfile={"Arn": profile_arn}, UserData=user_data, NetworkInterfaces=[nic],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
        InstanceInitiatedShutdownBehavior="terminate",
        BlockDeviceMappings=[{"DeviceName": base["root_device"], "Ebs": {
            "VolumeSize": volume, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags}],
    )
    t0 = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            # a token per attempt: a retry after a refusal is a new request, a repeat of one is not a second builder
            return ec2.run_instance(aws, client_token=f"{build_id}-{attempt}", **params)
        except AwsError as exc:
            if not (is_profile_propagation_error(exc) and time.monotonic() - t0 < PROFILE_RETRY_SECONDS):
                raise
        time.sleep(min(10, 2 * attempt))


def _rollback(aws, store: BuildStore, build_id: str, role: str | None, instance_id: str | None) -> list[str]:
    from pctl.ami import iam

    problems: list[str] = []
    if instance_id:
        try:
            ec2.terminate_instances(aws, [instance_id])
        except Exception as exc:
            problems.append(f"instance {instance_id}: {exc}")
    if role:
        problems += iam.delete_builder_profile(aws, role)
    try:
        store.delete(build_id, list(INPUTS))
    except Exception as exc:
        problems.append(f"s3 inputs of {build_id}: {exc}")
    return problems


def finish_ended(aws, record: dict) -> list[str]:
    """For `pctl ami status`: an ended build's leftovers (the role its agent emptied, inputs it could not
    delete) are removed by the first pctl command that sees the end. Best effort, quiet."""
    from pctl.ami.store import TERMINAL

    if record.get("status") not in TERMINAL or not record.get("build_id"):
        return []
    if (record.get("failure") or {}).get("reconciled"):
        return []  # the agent never recorded an end (its builder may still run): pctl ami cleanup decides
    try:
        return finish(aws, record)
    except Exception as exc:  # read-only credentials: status still works
        return [str(exc)]


def finish(aws, record: dict) -> list[str]:
    """After a build ended (seen by a watching pctl): remove its IAM role and its S3 inputs."""
    from pctl.ami import iam

    problems = []
    if record.get("role_name") or record.get("build_id"):
        problems += iam.delete_builder_profile(aws, record.get("role_name") or iam.role_name(record["build_id"]))
    try:
        BuildStore(aws, record.get("bucket")).delete(record["build_id"], list(INPUTS))
    except Exception as exc:
        problems.append(str(exc))
    return problems


def summary_json(result: dict) -> dict:
    """A JSON-safe copy of a start_build result (no webhook URL)."""
    return json.loads(json.dumps(result, default=str))
