"""The template model (pydantic v2). Field-level grammar lives here; cross-field rules in validate.py.

Every string field that can reach a shell script or an AWS API has a grammar (see rules.py). Free-text
fields (metadata.title/description, SSH key comments) are data only and are never interpolated
unquoted.
"""

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
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
        col = getattr(exc, "column", None)
        where = f" (at character {col + 1})" if isinstance(col, int) else ""
        raise PydanticCustomError("spack_spec", "invalid Spack spec {spec!r}: {msg}" + where,
                                  {"spec": value, "msg": str(getattr(exc, "message", None) or exc)})
    return value

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

def _mirror(value: str) -> str | None:
    if not rules.MIRROR_RE.fullmatch(value):
        return (f"mirror {value!r} must be an https://, s3://, oci:// or file:/// URL made of letters, digits "
                "and . _ ~ / % + : @ = -")
    return None

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
Mirror = Annotated[str, _check(_mirror)]
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

class Queue(_Model):
    name: QueueName
    instance_types: list[InstanceType] = Field(min_length=1, max_length=50)
    min_count: int = Field(0, ge=0, le=1000)
    max_count: int = Field(10, ge=1, le=1000)
    capacity: Annotated[Literal["ondemand", "spot"], BeforeValidator(_capacity)] = "ondemand"
    disable_hyperthreading: bool = False
    efa: bool = False
    subnet: Optional[SubnetId] = None

class Compute(_Model):
    head_node: InstanceType = Field(description="Head node instance type, e.g. t3.large.")
    queues: list[Queue] = Field(min_length=1, max_length=50)

def _target(value: str) -> str | None:
    from pctl.template.targets import target_problem

    return target_problem(value)

class Software(_Model):
    spack_packages: list[SpackSpec] = Field(default_factory=list, max_length=500)
    mirrors: list[Mirror] = Field(default_factory=list, max_length=20,
                                  description="Extra Spack build caches, tried before the public ones.")
    modules: Annotated[Literal["flat", "hierarchical"], BeforeValidator(_lower_token)] = "flat"
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

class Networking(_Model):
    subnet_id: Optional[SubnetId] = None
    ssh_allowed_cidr: Optional[Cidr] = None

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

    @property
    def arch(self) -> str:
        types = [self.compute.head_node] + [t for q in self.compute.queues for t in q.instance_types]
        return rules.instance_arch(types[0]) if types else "x86_64"

def json_schema() -> dict:
    schema = Template.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pctl.dev/schema/template.json"
    return schema
