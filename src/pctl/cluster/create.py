"""`pctl create`: network -> bucket -> ParallelCluster, with rollback of what this run made."""

from __future__ import annotations

import time

import click

from pctl.errors import PctlError

VALIDATOR_FIELDS = {
    "InstanceTypeValidator": "compute.head_node / compute.queues[].instance_types",
    "InstancesCPUValidator": "compute.queues[].instance_types (types sharing a compute resource need equal vCPUs)",
    "KeyPairValidator": "cluster.key_name (or --key-name)",
    "SubnetsValidator": "networking.subnet_id (or --subnet-id)",
    "ComputeResourceSizeValidator": "compute.queues[].min_count / max_count",
    "MaxCountValidator": "compute.queues",
    "NameValidator": "compute.queues[].name",
    "ClusterNameValidator": "cluster.name (or --name)",
    "S3BucketValidator": "data.s3_mounts[].bucket",
    "S3BucketRegionValidator": "data.s3_mounts[].bucket",
    "CustomAmiTagValidator": "cluster.custom_ami (or --custom-ami)",
    "AmiOsCompatibleValidator": "cluster.custom_ami / cluster.os",
    "EfaValidator": "compute.queues[].efa",
    "FsxArchitectureOsValidator": "data.shared_storage",
    "SharedStorageMountDirValidator": "data.shared_storage[].mount_point",
}


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
    """An AMI id, or the name given to `pctl ami build --name` (also written ami-NAME)."""
    from pctl.aws import aws_errors
    from pctl.template import rules

    ec2 = aws.client("ec2")
    with aws_errors():
        if rules.AMI_ID_RE.fullmatch(ref):
            imgs = ec2.describe_images(ImageIds=[ref])["Images"]
        else:
            names = [ref] + ([ref[4:]] if ref.startswith("ami-") else [])
            imgs = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:pctl:name", "Values": names}])["Images"]
            if not imgs:
                imgs = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": names}])["Images"]
    imgs = [i for i in imgs if i.get("State", "available") == "available"]
    if not imgs:
        raise PctlError(f"no available AMI found for {ref!r}",
                        hint="list pctl AMIs with 'pctl ami list'; build one with 'pctl ami build -t TEMPLATE --name NAME'")
    img = sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1]
    tags = {t["Key"]: t["Value"] for t in img.get("Tags", [])}
    built_for = tags.get("pctl:pcluster-version")
    if built_for and pcluster_version and built_for != pcluster_version:
        raise PctlError(f"AMI {img['ImageId']} was built for ParallelCluster {built_for}, but pctl uses {pcluster_version}",
                        hint=f"rebuild it: pctl ami build -t TEMPLATE --force, or install aws-parallelcluster=={built_for}")
    return img["ImageId"], tags


def find_matching_ami(aws, fingerprint: str, pcluster_version: str | None) -> str | None:
    """An available pctl AMI whose software fingerprint matches the template (built by `pctl ami build`)."""
    from pctl.aws import aws_errors

    filters = [{"Name": "tag:pctl:fingerprint", "Values": [fingerprint]}, {"Name": "state", "Values": ["available"]}]
    if pcluster_version:
        filters.append({"Name": "tag:pctl:pcluster-version", "Values": [pcluster_version]})
    with aws_errors():
        imgs = aws.client("ec2").describe_images(Owners=["self"], Filters=filters)["Images"]
    if not imgs:
        return None
    return sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1]["ImageId"]


def _echo(msg: str, quiet: bool) -> None:
    if not quiet:
        click.echo(msg, err=True)


def create_cluster(opts, *, catalog=None, use_catalog=True, as_json=False, yes=False, profile=None, wait=True,
                   rollback=True, ssh_cidr=None, ssh_from_anywhere=False, poll=15.0):
    from pctl import __version__
    from pctl.aws import Aws
    from pctl.aws.s3 import delete_prefix, ensure_bucket, upload
    from pctl.cli.common import emit_json
    from pctl.cluster import pcluster_api, sshconfig
    from pctl.cluster.plan import default_region, prepare, render_for, scripts_prefix
    from pctl.network.ensure import ensure_network, rollback as rollback_network

    quiet = as_json
    prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog)
    t = prepared.template
    region = default_region(t)
    aws = Aws(profile=profile, region=region)
    region = aws.region
    name = t.cluster.name
    backend = pcluster_api.backend
    pc_version = backend.version()
    if backend.describe_cluster(name, region) is not None:
        raise PctlError(f"a cluster named {name!r} already exists in {region}",
                        hint="choose another name with --name, or delete it first: pctl delete " + name)
    # software: explicit custom AMI, else an AMI already built for this exact software
    custom_ami = None
    if prepared.custom_ami:
        custom_ami, ami_tags = resolve_ami(aws, prepared.custom_ami, pc_version)
        from pctl.software.lookup import manifest_for  # issue 11: install at boot only what the AMI lacks

        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog,
                           ami=(custom_ami, manifest_for(aws, custom_ami, ami_tags)))
        _echo(f"software: {prepared.software.summary()} (AMI {custom_ami})", quiet)
        for w in prepared.software.warnings:
            _echo(f"warning: {w}", False)  # also with --json (stderr)
    elif prepared.software_mode == "boot":
        custom_ami = find_matching_ami(aws, prepared.fingerprint, pc_version)
        if custom_ami:
            _echo(f"using AMI {custom_ami}: it already has this template's software (fingerprint "
                  f"{prepared.fingerprint[:12]})", quiet)
    if custom_ami and not prepared.custom_ami and prepared.software_mode != "ami":  # found by fingerprint
        prepared = prepare(opts, catalog=catalog, use_catalog=use_catalog, software_mode="ami")
    # who may SSH
    cidr = t.networking.ssh_allowed_cidr or ssh_cidr
    if cidr is None:
        if ssh_from_anywhere:
            cidr = "0.0.0.0/0"
        else:
            cidr = detect_public_cidr()
            if cidr is None:
                raise PctlError("could not detect your public IP address to restrict SSH to it",
                                hint="set networking.ssh_allowed_cidr in the template or pass --ssh-cidr 203.0.113.0/24")
    made_network = []
    uploaded_prefix = None
    bucket = None
    try:
        if t.networking.subnet_id:
            head_subnet = t.networking.subnet_id
            compute_subnets = (t.networking.subnet_id,)
        else:
            _echo(f"network: ensuring the pctl network in {region}", quiet)
            net = ensure_network(aws, public_only=opts.public_only, ssh_cidr=cidr,
                                 progress=lambda m: _echo(f"  {m}", quiet))
            made_network = net.created
            head_subnet = net.public_subnets[0]
            compute_subnets = tuple(net.compute_subnets(opts.public_only))
        bucket = ensure_bucket(aws)
        prefix = scripts_prefix(prepared)
        uploaded_prefix = f"clusters/{name}/"  # everything of this cluster (no cluster of this name exists)
        upload(aws, bucket, prefix, prepared.scripts)
        _echo(f"uploaded {len(prepared.scripts)} bootstrap file(s) to s3://{bucket}/{prefix}", quiet)
        ctx, rendered = render_for(prepared, region=region, bucket=bucket, head_subnet=head_subnet,
                                   compute_subnets=compute_subnets, ssh_cidr=cidr, custom_ami=custom_ami)
        import json

        upload(aws, bucket, f"clusters/{name}/", {"cluster.json": json.dumps(cluster_summary(prepared, rendered),
                                                                              indent=2)})
        config = rendered.config
        config["Tags"] += [{"Key": "pctl:bucket", "Value": bucket}, {"Key": "pctl:bucket-prefix", "Value": prefix},
                           {"Key": "pctl:os", "Value": t.cluster.os}]
        if t.cluster.key_name:
            config["Tags"].append({"Key": "pctl:key-name", "Value": t.cluster.key_name})
        _echo(f"creating cluster {name} with ParallelCluster {pc_version or '?'}", quiet)
        result = backend.create_cluster(name, config, region, rollback=rollback)
        if not result.ok:
            msg = pcluster_api.translate_failure(result)
            fields = sorted({VALIDATOR_FIELDS[m["type"]] for m in result.validation if m.get("type") in VALIDATOR_FIELDS})
            raise PctlError(f"ParallelCluster refused to create {name}:\n{msg}",
                            hint=("check " + "; ".join(fields)) if fields else None)
    except BaseException:
        left = []
        if uploaded_prefix and bucket:
            try:
                delete_prefix(aws, bucket, uploaded_prefix)
            except Exception as exc:  # report, keep going
                left.append(f"s3://{bucket}/{uploaded_prefix}: {exc}")
        if made_network:
            left += rollback_network(aws, made_network)
        if left:
            _echo("could not roll back: " + "; ".join(left) + " (pctl network delete / pctl delete removes them)", False)
        raise
    record = {"name": name, "region": region, "status": result.status, "template": prepared.ref.name,
              "fingerprint": prepared.fingerprint, "software": prepared.software_mode, "ami": custom_ami,
              "bucket": bucket, "prefix": prefix, "pctl_version": __version__,
              "validation": result.validation,
              "software_plan": prepared.software.to_dict() if prepared.software is not None else None}
    if wait:
        events = StackEvents(aws, name)
        record["status"] = wait_for(backend, name, region, ("CREATE_COMPLETE",), ("CREATE_FAILED",), poll=poll,
                                    quiet=quiet, events=events)
        if record["status"] == "CREATE_FAILED":
            reason = events.failure_reason()
            kept = ("the stack was kept for debugging (--no-rollback)" if not rollback else
                    "ParallelCluster rolled back what it created")
            raise PctlError(f"cluster {name} failed to create" + (f": {reason}" if reason else "") + f"; {kept}",
                            hint=f"see 'pctl status {name}'; remove what is left with 'pctl delete {name}'")
        info = backend.describe_cluster(name, region) or {}
        head = info.get("headNode", {}) if isinstance(info, dict) else {}
        addr = head.get("publicIpAddress") or head.get("privateIpAddress")
        record["head_node"] = addr
        if addr:
            from pctl.template.rules import DEFAULT_USER

            from pctl.cli.common import confirm

            try:
                host = sshconfig.add_host(name, addr, DEFAULT_USER[t.cluster.os],
                                          consent=True if yes else (lambda q: confirm(q, yes=False, default=True)))
                ok = host.added and host.included and not host.shadowed_by
                record["ssh"] = f"ssh {name}" if ok else f"ssh {DEFAULT_USER[t.cluster.os]}@{addr}"
                if host.shadowed_by:
                    _echo(f"note: your own ~/.ssh/config entry 'Host {host.shadowed_by[0]}' also matches {name} and "
                          f"wins over pctl's; use 'pctl ssh {name}'", quiet)
            except OSError:
                record["ssh"] = f"ssh {DEFAULT_USER[t.cluster.os]}@{addr}"
    if as_json:
        emit_json(record)
    else:
        click.echo(f"cluster {name}: {record['status']}" + (f"  — connect with: {record['ssh']}" if record.get("ssh") else ""))
    return record


class StackEvents:
    """New CloudFormation events of the cluster's stack (named after the cluster), oldest first."""

    def __init__(self, aws, stack: str):
        self.aws, self.stack, self.seen = aws, stack, set()

    def new(self) -> list[dict]:
        try:
            events = self.aws.client("cloudformation").describe_stack_events(StackName=self.stack)["StackEvents"]
        except Exception:  # no stack yet, or gone: nothing to show
            return []
        fresh = [e for e in events if e.get("EventId") not in self.seen]
        self.seen.update(e.get("EventId") for e in fresh)
        return list(reversed(fresh))

    def failure_reason(self) -> str | None:
        try:
            events = self.aws.client("cloudformation").describe_stack_events(StackName=self.stack)["StackEvents"]
        except Exception:
            return None
        failed = [e for e in reversed(events) if str(e.get("ResourceStatus", "")).endswith("FAILED")
                  and e.get("ResourceStatusReason")]
        if not failed:
            return None
        e = failed[0]  # the first failure caused the rest
        return f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"


def cluster_summary(prepared, rendered) -> dict:
    """What `pctl status` shows beyond ParallelCluster's view: mounts, storage, users, software."""
    t = prepared.template
    return {
        "template": prepared.ref.name, "fingerprint": prepared.fingerprint, "software_mode": prepared.software_mode,
        "packages": list(t.software.spack_packages),
        "software_plan": prepared.software.to_dict() if prepared.software is not None else None,  # issue 11
        "s3_mounts": [{"bucket": m.bucket, "prefix": m.prefix, "mount_point": m.mount_point, "read_only": m.read_only}
                      for m in t.data.s3_mounts],
        "shared_storage": [{"name": s["Name"], "type": s["StorageType"], "mount_point": s["MountDir"]}
                           for s in rendered.config.get("SharedStorage", [])],
        "users": [{"name": u.name, "uid": u.uid, "gid": u.primary_gid} for u in t.users],
        "queues": [{"name": q.name, "capacity": q.capacity, "min_count": q.min_count, "max_count": q.max_count}
                   for q in rendered.queues],
    }


def wait_for(backend, name: str, region: str, done: tuple, failed: tuple, *, poll: float = 15.0, quiet=False,
             timeout: float = 4 * 3600, events: StackEvents | None = None) -> str:
    start = time.monotonic()
    last = None
    while True:
        info = backend.describe_cluster(name, region)
        status = (info or {}).get("clusterStatus") if info is not None else "DELETE_COMPLETE"
        elapsed = int(time.monotonic() - start)
        if events is not None and not quiet:
            for e in events.new():
                reason = f" ({e['ResourceStatusReason']})" if e.get("ResourceStatusReason") else ""
                click.echo(f"  [{elapsed:>5d} s]   {e.get('LogicalResourceId')}: {e.get('ResourceStatus')}{reason}",
                           err=True)
        if status != last and not quiet:
            click.echo(f"  [{elapsed:>5d} s] {name}: {status}", err=True)
        last = status
        if status in done or status in failed:
            return status
        if time.monotonic() - start > timeout:
            raise PctlError(f"gave up waiting for {name} after {timeout / 3600:.1f} h (status {status})",
                            hint=f"check later with 'pctl status {name}'")
        time.sleep(poll)

