"""The template model (pydantic v2). Field-level grammar lives here; cross-field rules in validate.py.

Every string field that can reach a shell script or an AWS API has a grammar (see rules.py). Free-text
fields (metadata.title/description, SSH key comments) are data only and are never interpolated
unquoted.
"""

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from pctl.template import rules

def _check(fn):
    def run(value):
        problem = fn(value)
        if problem:
            raise PydanticCustomError("pctl", problem)
        return value

    return AfterValidator(run)

def _lower_token(value):
    """'On-Demand' -> 'ondemand', 'FSx_Lustre' -> 'fsx_lustre' (enums are forgiving about case)."""
    if isinstance(value, str):
        return value.strip().lower().replace("-", "_")
    return value

def _capacity(value):
    if isinstance(value, str):
        v = value.strip().lower().replace("-", "").replace("_", "")
        return {"ondemand": "ondemand", "spot": "spot"}.get(v, value)
    return value

def _storage_type(value):
    if isinstance(value, str):
        v = value.strip().lower().replace("-", "").replace("_", "")
        return {"efs": "efs", "fsx": "fsx_lustre", "fsxlustre": "fsx_lustre", "lustre": "fsx_lustre",
                "ebs": "ebs"}.get(v, value)
    return value

def _spec(value: str) -> str:
    from pctl.spack.spec import SpecSyntaxError, parse_spec

    try:
        parse_spec(value)
    except SpecSyntaxError as exc:
        raise PydanticCustomError("spack_spec", "{text}", {"text": spec_error_text(value, exc)})
    return value


def spec_error_text(value: str, exc) -> str:
    """'invalid Spack spec 'bonnie++@2.00a': variant name expected after '++' (at character 7)'.

    The message is formatted here, never by pydantic's template engine (which knows no !r), and the
    position is named once even when the parser's own message already carries it."""
    import re as _re

    msg = str(getattr(exc, "message", None) or exc).strip()
    msg = _re.sub(r"\s*\(?\bat (?:column|character|position) \d+\)?\s*$", "", msg).strip()
    col = getattr(exc, "column", None)
    where = f" (at character {col + 1})" if isinstance(col, int) else ""
    return f"invalid Spack spec {value!r}: {msg}{where}"

def _ami(value: str) -> str | None:
    if rules.AMI_ID_RE.fullmatch(value) or rules.AMI_NAME_RE.fullmatch(value):
        return None
    return f"{value!r} is neither an AMI id (ami-0123456789abcdef0) nor a pctl AMI name (letters, digits, . _ -)"

def _key_name(value: str) -> str | None:
    if rules.KEY_NAME_RE.fullmatch(value):
        return None
    return f"{value!r} is not a usable EC2 key pair name (letters, digits and . _ + = @ -, at most 255)"

def _subnet(value: str) -> str | None:
    return None if rules.SUBNET_RE.fullmatch(value) else f"{value!r} is not a subnet id (subnet-0123456789abcdef0)"

def _shell(value: str) -> str | None:
    if not rules.SHELL_RE.fullmatch(value):
        return f"shell {value!r} must be an absolute path such as /bin/bash"
    return None

def _mirror_entry(value):
    """A bare URL is shorthand for {url: URL} (a signed mirror)."""
    if isinstance(value, str):
        return {"url": value}
    if not isinstance(value, (dict, BaseModel)):
        raise PydanticCustomError("pctl", "a mirror is a URL, or a mapping {url: URL, allow_unsigned: true}; got "
                                  + repr(value)[:80].replace("{", "(").replace("}", ")"))
    return value

def _prefix(value: str) -> str | None:
    if value.startswith("/"):
        return f"prefix {value!r} must not start with '/' (it is a key prefix inside the bucket, e.g. runs/2024/)"
    if not rules.S3_PREFIX_RE.fullmatch(value):
        if not value.endswith("/"):
            return f"prefix {value!r} must end with '/' (Mountpoint for S3 mounts a folder), e.g. {value}/"
        return f"prefix {value!r} may contain only letters, digits and ! _ . * ' ( ) / = + -"
    if "//" in value or any(p in (".", "..") for p in value.split("/")):
        return f"prefix {value!r} must not contain empty, '.' or '..' parts"
    return None

def _metadata_tag(value: str) -> str | None:
    import re

    if not re.fullmatch(r"^[a-z0-9][a-z0-9+.-]{0,39}$", value):
        return f"search tag {value!r} must be lowercase letters, digits, + . - (at most 40)"
    return None

def _project(value: str) -> str | None:
    import re

    if not re.fullmatch(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", value):
        return f"project {value!r} must be letters, digits and . _ - (at most 64), starting with a letter or digit"
    return None

def _idle_timeout(value: str) -> str | None:
    import re

    from pctl.cost.duration import duration_problem

    if not re.fullmatch(r"(?:[0-9]{1,5}[dhm]){1,3}", value):
        return f"idle_timeout {value!r} is not a duration such as 2h, 90m, 1h30m or 3d"
    return duration_problem(value, minimum=10 * 60, maximum=30 * 86400, what="idle_timeout")

def _notify(value: str) -> str | None:
    import re

    if re.fullmatch(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$", value):
        return None
    if re.fullmatch(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$", value) and len(value) <= 254:
        return None
    return f"notify {value!r} must be an e-mail address or an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"

ClusterName = Annotated[str, _check(rules.cluster_name_problem)]
Region = Annotated[str, _check(rules.region_problem)]
InstanceType = Annotated[str, _check(rules.instance_type_problem)]
QueueName = Annotated[str, _check(rules.queue_name_problem)]
SubnetId = Annotated[str, _check(_subnet)]
PosixName = Annotated[str, _check(rules.posix_name_problem)]
GroupName = Annotated[str, _check(lambda v: rules.posix_name_problem(v, "group name"))]
UnixId = Annotated[int, _check(lambda v: rules.id_problem(v, "id"))]
MountPoint = Annotated[str, _check(rules.mount_point_problem)]
BucketName = Annotated[str, _check(rules.bucket_problem)]
Cidr = Annotated[str, _check(rules.cidr_problem)]
SpackSpec = Annotated[str, AfterValidator(_spec)]
SshKey = Annotated[str, _check(rules.ssh_key_problem)]
MirrorUrl = Annotated[str, _check(rules.mirror_url_problem)]
OsName = Literal["alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9", "rocky8", "rocky9"]

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, validate_default=False)

class Metadata(_Model):
    """Registry information: what the template is for. Never used in generated scripts."""

    title: Optional[str] = Field(None, max_length=120)
    description: Optional[str] = Field(None, max_length=4000)
    tags: list[Annotated[str, _check(_metadata_tag)]] = Field(default_factory=list, max_length=30)
    version: Optional[str] = Field(None, max_length=40)
    author: Optional[str] = Field(None, max_length=200)

class Cluster(_Model):
    name: ClusterName = Field(description="Cluster name: letter first, letters/digits/hyphens, at most 60.")
    region: Optional[Region] = Field(None, description="AWS region; defaults to your AWS configuration.")
    os: Annotated[OsName, BeforeValidator(_lower_token)] = Field("alinux2023", description="Operating system.")
    custom_ami: Optional[Annotated[str, _check(_ami)]] = Field(None, description="AMI id or pctl AMI name.")
    key_name: Optional[Annotated[str, _check(_key_name)]] = Field(None, description="EC2 key pair for SSH.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra AWS tags for every resource.")
    project: Optional[Annotated[str, _check(_project)]] = Field(
        None, description="Project this cluster's spend is counted under (tag pctl:project; pctl cost --project).")
    idle_timeout: Optional[Annotated[str, _check(_idle_timeout)]] = Field(
        None, description="Stop or delete the cluster after this long with no running or pending jobs and no "
                          "logged-in users, e.g. 2h (10 minutes to 30 days). Works with no pctl running anywhere.")
    idle_action: Annotated[Literal["auto_stop", "auto_delete"], BeforeValidator(_lower_token)] = Field(
        "auto_stop", description="auto_stop: stop the compute fleet and the head node (pctl start NAME resumes; "
                                 "storage is kept); auto_delete: delete the whole cluster.")

AllocationStrategy = Literal["lowest-price", "capacity-optimized", "price-capacity-optimized", "prioritized",
                             "capacity-optimized-prioritized"]
ComputeResourceName = Annotated[str, _check(rules.compute_resource_name_problem)]


def _allocation(value):
    if isinstance(value, str):
        return value.strip().lower().replace("_", "-")
    return value


class CustomAction(_Model):
    """A script ParallelCluster downloads and runs as root on the node (after pctl's own setup)."""

    script: Annotated[str, _check(rules.action_url_problem)] = Field(
        description="s3://bucket/key or https:// URL of the script.")
    args: list[Annotated[str, _check(rules.action_arg_problem)]] = Field(default_factory=list, max_length=50)


class CustomActions(_Model):
    on_node_start: list[CustomAction] = Field(default_factory=list, max_length=10,
                                              description="Before the node is configured (before pctl's setup).")
    on_node_configured: list[CustomAction] = Field(default_factory=list, max_length=10,
                                                   description="After the node is configured and pctl's setup ran.")


class HeadNodeCustomActions(CustomActions):
    on_node_updated: list[CustomAction] = Field(default_factory=list, max_length=10,
                                                description="After every 'pcluster update-cluster'.")


class ComputeResource(_Model):
    """An explicit group of instance types with its own node counts (ParallelCluster's compute resource)."""

    name: Optional[ComputeResourceName] = None
    instance_types: list[InstanceType] = Field(min_length=1, max_length=50)
    min_count: int = Field(0, ge=0, le=1000)
    max_count: int = Field(10, ge=1, le=1000)
    efa: Optional[bool] = Field(None, description="Defaults to the queue's efa.")
    disable_hyperthreading: Optional[bool] = Field(None, description="Defaults to the queue's.")


def _queue_from_resources(data):
    """compute_resources given without instance_types/min_count/max_count: the queue's totals follow
    from them (the union of the types, the sums of the counts)."""
    if not isinstance(data, dict) or not isinstance(data.get("compute_resources"), list):
        return data
    crs = [c for c in data["compute_resources"] if isinstance(c, dict)]
    out = dict(data)
    if "instance_types" not in out:
        types: list = []
        for c in crs:
            for t in c["instance_types"] if isinstance(c.get("instance_types"), list) else []:
                if isinstance(t, str) and t not in types:
                    types.append(t)
        if types:
            out["instance_types"] = types
    for key, default in (("min_count", 0), ("max_count", 10)):
        vals = [c.get(key, default) for c in crs]
        if key not in out and crs and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            out[key] = sum(vals)
    return out


class Queue(_Model):
    name: QueueName
    instance_types: list[InstanceType] = Field(min_length=1, max_length=50)
    min_count: int = Field(0, ge=0, le=1000)
    max_count: int = Field(10, ge=1, le=1000)
    capacity: Annotated[Literal["ondemand", "spot"], BeforeValidator(_capacity)] = "ondemand"
    allocation_strategy: Optional[Annotated[AllocationStrategy, BeforeValidator(_allocation)]] = Field(
        None, description="How EC2 picks among the queue's instance types: lowest-price (the only choice with "
                          "prioritized for ondemand), capacity-optimized, price-capacity-optimized, "
                          "capacity-optimized-prioritized (spot). Default: capacity-optimized for spot queues "
                          "with several types, else EC2's lowest-price.")
    disable_hyperthreading: bool = False
    efa: bool = False
    placement_group: Optional[bool] = Field(None, description="Cluster placement group; defaults to efa.")
    subnet: Optional[SubnetId] = None
    root_volume_gb: Optional[int] = Field(
        None, ge=8, le=16384, description="Root volume of this queue's nodes in GiB; default: the AMI's own size. "
                                          "Never smaller than the AMI's snapshot (raised to it at create).")
    compute_resources: Optional[list[ComputeResource]] = Field(
        None, min_length=1, max_length=50,
        description="Explicit compute resources with their own counts (instead of pctl grouping "
                    "instance_types and splitting min/max_count); the queue's instance_types and counts are "
                    "their union and sums.")
    custom_actions: Optional[CustomActions] = Field(
        None, description="Your own scripts on this queue's nodes, run around pctl's own setup.")

    @model_validator(mode="before")
    @classmethod
    def totals_from_compute_resources(cls, data):
        return _queue_from_resources(data)

class Compute(_Model):
    head_node: InstanceType = Field(description="Head node instance type, e.g. t3.large.")
    head_node_root_volume_gb: Optional[int] = Field(
        None, ge=8, le=16384, description="Head node root volume in GiB; default: the AMI's own size. Never smaller "
                                          "than the AMI's snapshot (raised to it at create).")
    head_node_custom_actions: Optional[HeadNodeCustomActions] = Field(
        None, description="Your own scripts on the head node, run around pctl's own setup.")
    queues: list[Queue] = Field(min_length=1, max_length=50)

class Mirror(_Model):
    """An extra Spack build cache. Write a bare URL for a signed one."""

    url: MirrorUrl = Field(description="https://HOST/PATH or s3://BUCKET/PATH (no credentials).")
    allow_unsigned: bool = Field(
        False, description="Install unsigned binaries from this cache (no signature check). Off by default: "
                           "Spack then installs only binaries signed by a key the node trusts.")


MirrorEntry = Annotated[Mirror, BeforeValidator(_mirror_entry, json_schema_input_type=Union[MirrorUrl, Mirror])]


def _target(value: str) -> str | None:
    from pctl.template.targets import target_problem

    return target_problem(value)


class Software(_Model):
    spack_packages: list[SpackSpec] = Field(default_factory=list, max_length=500)
    mirrors: list[MirrorEntry] = Field(
        default_factory=list, max_length=20,
        description="Extra Spack build caches (https:// or s3://), tried after the official ones; signed "
                    "unless allow_unsigned: true. A URL, or {url: URL, allow_unsigned: true}.")
    modules: Annotated[Literal["flat", "hierarchical"], BeforeValidator(_lower_token)] = "flat"
    install: Optional[Annotated[Literal["boot", "ami"], BeforeValidator(_lower_token)]] = Field(
        None, description="Where the software is installed: 'boot' (by the head node while the cluster starts; "
                          "must finish within its 4 h bootstrap limit) or 'ami' (baked once with 'pctl ami build'; "
                          "pctl create uses that AMI). Default: 'ami' with cluster.custom_ami, else 'boot'.")
    target: Optional[Annotated[str, _check(_target)]] = Field(
        None, description="CPU target (Spack microarchitecture) the software is built for, e.g. x86_64_v3, zen4, "
                          "neoverse_v1. Default: the most capable target every instance type of the cluster runs. "
                          "Every instance type must be able to run it.")

class Group(_Model):
    name: GroupName
    gid: UnixId

class User(_Model):
    name: PosixName
    uid: UnixId
    gid: Optional[UnixId] = Field(None, description="Primary group id; defaults to the uid.")
    groups: list[GroupName] = Field(default_factory=list, max_length=64)
    shell: Annotated[str, _check(_shell)] = "/bin/bash"
    sudo: bool = False
    ssh_public_keys: list[SshKey] = Field(default_factory=list, max_length=50)

    @property
    def primary_gid(self) -> int:
        return self.gid if self.gid is not None else self.uid

class S3Mount(_Model):
    bucket: BucketName
    mount_point: MountPoint
    prefix: Optional[Annotated[str, _check(_prefix)]] = None
    read_only: bool = True
    group: Optional[GroupName] = Field(
        None, description="The group whose members may use the mount: a group of groups:, a template user's name "
                          "(that user's primary group) or users (gid 100). Read-write mounts are 0770/0660 for it "
                          "(default: users, of which pctl makes every template user a member); read-only mounts "
                          "with a group are 0550/0440 for it, without one readable by every account. Root (the owner) "
                          "and the cluster's default OS user (ec2-user, ubuntu or rocky, added to the group) "
                          "always have access.")
    requester_pays: bool = Field(
        False, description="The bucket is a Requester Pays bucket: requests carry x-amz-request-payer and your "
                           "account pays for them and for the data transfer (Mountpoint --requester-pays).")

class SharedStorage(_Model):
    type: Annotated[Literal["efs", "fsx_lustre", "ebs"], BeforeValidator(_storage_type)]
    mount_point: MountPoint
    name: Optional[Annotated[str, _check(lambda v: None if rules.STORAGE_NAME_RE.fullmatch(v) else
                                         f"storage name {v!r} must start with a letter and contain only letters, digits, _ and -, at most 30")]] = None
    size_gb: Optional[int] = Field(None, ge=1, le=1_000_000)
    id: Optional[str] = Field(None, description="Use an existing file system or volume (fs-..., vol-...).")
    deployment_type: Optional[Literal["SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"]] = None
    volume_type: Optional[Literal["gp2", "gp3", "io1", "io2", "st1", "sc1"]] = None
    deletion_policy: Annotated[Literal["delete", "retain", "snapshot"], BeforeValidator(_lower_token)] = "delete"

class Data(_Model):
    s3_mounts: list[S3Mount] = Field(default_factory=list, max_length=50)
    shared_storage: list[SharedStorage] = Field(default_factory=list, max_length=25)

class Budget(_Model):
    """A monthly budget: an AWS Budget on the cluster's (or project's) tag, alerts at 80 % and 100 %."""

    monthly_usd: float = Field(gt=0, le=10_000_000, description="Monthly budget in US dollars.")
    notify: list[Annotated[str, _check(_notify)]] = Field(
        default_factory=list, max_length=10, description="E-mail addresses or SNS topic ARNs told at 80 % and 100 %.")
    scope: Optional[Annotated[Literal["cluster", "project"], BeforeValidator(_lower_token)]] = Field(
        None, description="What the budget counts: this cluster, or every cluster of cluster.project "
                          "(default: project when cluster.project is set).")

class Networking(_Model):
    subnet_id: Optional[SubnetId] = None
    ssh_allowed_cidr: Optional[Cidr] = Field(None, description="Who may SSH to the head node; default: your public "
                                                               "IP /32 at create. --ssh-cidr wins over it.")
    ssh_from_anywhere: bool = Field(False, description="Allow SSH from the whole internet (0.0.0.0/0). Required, "
                                                       "besides the CIDR itself, to open SSH to the world.")

class Template(_Model):
    """A pctl template: one cluster, its software, users and data."""

    model_config = ConfigDict(extra="forbid", strict=True, title="pctl template")

    extends: Optional[Union[str, list[str]]] = Field(
        None, description="Parent template(s): a name (library/registry) or a path relative to this file. "
                          "Resolved before validation; see README 'Template inheritance'.")
    remove: Optional[dict[str, Any]] = Field(
        None, description="Inherited items to drop, e.g. {software: {spack_packages: [gatk]}, users: [bob]}.")
    metadata: Metadata = Field(default_factory=Metadata)
    cluster: Cluster
    compute: Compute
    software: Software = Field(default_factory=Software)
    users: list[User] = Field(default_factory=list, max_length=2000)
    groups: list[Group] = Field(default_factory=list, max_length=500)
    data: Data = Field(default_factory=Data)
    networking: Networking = Field(default_factory=Networking)
    budget: Optional[Budget] = Field(None, description="Monthly budget: checked against the estimate before "
                                                       "create, enforced by alerts while the cluster runs.")

    @property
    def arch(self) -> str:
        types = [self.compute.head_node] + [t for q in self.compute.queues for t in q.instance_types]
        return rules.instance_arch(types[0]) if types else "x86_64"

def json_schema() -> dict:
    schema = Template.model_json_schema()
    queue = schema.get("$defs", {}).get("Queue", {})
    if "instance_types" in queue.get("required", []):  # or compute_resources: the types follow from them
        queue["required"] = [r for r in queue["required"] if r != "instance_types"]
        queue["anyOf"] = [{"required": ["instance_types"]}, {"required": ["compute_resources"]}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pctl.dev/schema/template.json"
    return schema
