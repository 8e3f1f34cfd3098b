"""Grammar rules for template fields, shared by the model, the renderer and capture.

Each rule is a pure function returning None when the value is fine or a message saying what is
wrong in words a researcher understands. Values that pass these rules are safe to place in shell
scripts once quoted; fields without a grammar (descriptions, comments) are only ever data.
"""

from __future__ import annotations

import ipaddress
import re

OS_CHOICES = ("alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9", "rocky8", "rocky9")
OS_FAMILY = {
    "alinux2023": "dnf", "rhel8": "dnf", "rhel9": "dnf", "rocky8": "dnf", "rocky9": "dnf",
    "ubuntu2204": "apt", "ubuntu2404": "apt",
}
DEFAULT_USER = {
    "alinux2023": "ec2-user", "rhel8": "ec2-user", "rhel9": "ec2-user", "rocky8": "rocky", "rocky9": "rocky",
    "ubuntu2204": "ubuntu", "ubuntu2404": "ubuntu",
}

KNOWN_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1",
    "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1",
    "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
    "us-gov-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1",
)
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$")

CLUSTER_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,59}$")
QUEUE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
QUEUE_NAME_MAX = 25
# EC2 instance types: family (letters+generation+attributes, optionally -suffix such as -flex, u-6tb1)
# then a size. Examples: t3.micro, hpc7a.96xlarge, trn1n.32xlarge, inf2.xlarge, c7i-flex.large,
# m7i.metal-24xl, u-6tb1.112xlarge, mac2-m2pro.metal, p6-b200.48xlarge.
INSTANCE_TYPE_RE = re.compile(
    r"^(?P<family>(?=[a-z0-9-]*[0-9])[a-z][a-z0-9]*(?:-[a-z0-9]+)*)\."
    r"(?P<size>nano|micro|small|medium|large|[1-9][0-9]{0,2}xlarge|xlarge|metal(?:-[1-9][0-9]{0,2}xl)?)$"
)
SUBNET_RE = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
AMI_ID_RE = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
AMI_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=@-]{0,254}$")
POSIX_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
SHELL_RE = re.compile(r"^/(?:[A-Za-z0-9._+-]+/)*[A-Za-z0-9._+-]+$")
MOUNT_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.!*'()=+][A-Za-z0-9!_.*'()/=+-]*/$")
TAG_CHARS_RE = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
FS_ID_RE = re.compile(r"^fs-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
VOL_ID_RE = re.compile(r"^vol-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
STORAGE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,29}$")
SSH_KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)

RESERVED_USERS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "systemd-network", "systemd-resolve",
    "messagebus", "sshd", "ec2-user", "ubuntu", "centos", "rocky", "admin", "slurm", "munge",
    "pcluster-admin", "adm", "wheel", "sudo", "shutdown", "halt", "operator", "ftp", "dbus", "polkitd",
    "chrony", "rpc", "rpcuser", "nfsnobody", "tss", "dcv", "postfix", "ntp", "_apt", "syslog", "lxd",
})
# Supplementary groups that exist on every supported image and may be used without defining them.
OS_GROUPS = frozenset({"wheel", "adm", "users", "video", "render", "docker", "systemd-journal"})

UID_MIN, UID_MAX = 1000, 60000
OS_DEFAULT_UID = 1000  # ec2-user / ubuntu / rocky on ParallelCluster images

# Mount points that would break the node, and trees nothing may be mounted inside.
FORBIDDEN_MOUNTS = frozenset({
    "/", "/etc", "/usr", "/home", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev",
    "/proc", "/sys", "/run", "/var", "/tmp", "/root", "/opt", "/srv", "/mnt", "/media", "/snap",
})
FORBIDDEN_TREES = (
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys",
    "/run", "/root", "/var/lib", "/var/log", "/var/run", "/var/spool", "/var/tmp", "/opt/slurm",
    "/opt/parallelcluster", "/opt/amazon", "/opt/intel", "/opt/pctl", "/tmp",
)
SOFTWARE_ROOT = "/opt/pctl"  # where pctl installs Spack and the software tree


def region_suggestion(value: str) -> str | None:
    """The known region a mistyped one most likely means: us-east1 / US_EAST_1 / useast1 -> us-east-1."""
    low = value.strip().lower().replace("_", "-").replace(" ", "-")
    squash = re.sub(r"[^a-z0-9]", "", low)
    for r in KNOWN_REGIONS:
        if low == r or squash == r.replace("-", ""):
            return r
    return did_you_mean(low, KNOWN_REGIONS)


def region_problem(value: str) -> str | None:
    if REGION_RE.fullmatch(value):
        return None
    guess = region_suggestion(value)
    if guess:
        return f"{value!r} is not an AWS region name; did you mean {guess!r}?"
    return (f"{value!r} is not an AWS region name (for example us-east-1); known regions: "
            + ", ".join(KNOWN_REGIONS))


def cluster_name_problem(value: str) -> str | None:
    if CLUSTER_NAME_RE.fullmatch(value):
        return None
    if not value:
        return "cluster name is empty"
    if len(value) > 60:
        return f"cluster name is {len(value)} characters; at most 60 are allowed"
    if not value[0].isascii() or not value[0].isalpha():
        return f"cluster name {value!r} must start with a letter"
    return f"cluster name {value!r} may contain only letters, digits and hyphens (ParallelCluster's rule)"


def queue_name_problem(value: str) -> str | None:
    if len(value) > QUEUE_NAME_MAX:
        return f"queue name {value!r} is {len(value)} characters; at most {QUEUE_NAME_MAX} are allowed"
    if not QUEUE_NAME_RE.fullmatch(value):
        return (f"queue name {value!r} must start with a lowercase letter and contain only lowercase "
                "letters, digits and hyphens")
    if value == "default":
        return "'default' cannot be used as a queue name (Slurm reserves it)"
    return None


def instance_type_problem(value: str) -> str | None:
    if INSTANCE_TYPE_RE.fullmatch(value):
        return None
    low = value.strip().lower()
    if low != value and INSTANCE_TYPE_RE.fullmatch(low):
        return f"{value!r} is not an EC2 instance type; did you mean {low!r}?"
    fam, dot, size = low.partition(".")
    if dot and INSTANCE_TYPE_RE.fullmatch(f"{fam}.large"):
        sizes = ["nano", "micro", "small", "medium", "large", "xlarge", "metal"] + [f"{n}xlarge" for n in
                                                                                  (2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 32, 48, 96)]
        guess = did_you_mean(size, sizes)
        if guess:
            return f"{value!r} is not an EC2 instance type; did you mean '{fam}.{guess}'?"
    return f"{value!r} is not an EC2 instance type (family.size, for example c6i.2xlarge, hpc7a.96xlarge, g5.xlarge)"


_KNOWN_TYPES: frozenset[str] | None = None


def known_instance_types() -> frozenset[str]:
    """EC2 instance types pctl knows offline (data/ec2-instance-types.txt, from botocore's EC2 model)."""
    global _KNOWN_TYPES
    if _KNOWN_TYPES is None:
        from pathlib import Path

        path = Path(__file__).with_name("data") / "ec2-instance-types.txt"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:  # a broken installation: no list, no warnings
            lines = []
        _KNOWN_TYPES = frozenset(ln.strip() for ln in lines if ln.strip() and not ln.startswith("#"))
    return _KNOWN_TYPES


def unknown_instance_type(value: str) -> str | None:
    """For a well-formed type that EC2 does not list: a message with the closest real types (None when known).
    A warning, not an error: AWS adds instance types faster than pctl's list is refreshed."""
    known = known_instance_types()
    if not known or value in known or not INSTANCE_TYPE_RE.fullmatch(value):
        return None
    import difflib

    fam, _, size = value.partition(".")
    same_size = [t for t in known if t.endswith("." + size)]
    guesses = difflib.get_close_matches(value, same_size, n=3, cutoff=0.75)
    families = {t.split(".", 1)[0] for t in known}
    if fam in families:  # a real family, a size it does not come in
        sizes = sorted((t for t in known if t.startswith(fam + ".")), key=size_rank)
        return (f"{value!r} is not an EC2 instance type: {fam} comes in " + ", ".join(
            t.split(".", 1)[1] for t in sizes[:12]) + (" ..." if len(sizes) > 12 else ""))
    if not guesses:
        guesses = difflib.get_close_matches(value, list(known), n=3, cutoff=0.8)
    if guesses:
        return f"{value!r} is not an EC2 instance type pctl knows; did you mean {' or '.join(map(repr, guesses))}?"
    return f"{value!r} is not an EC2 instance type pctl knows (new types are checked by AWS at create)"


OS_ALIASES = {
    "al2023": "alinux2023", "amazonlinux2023": "alinux2023", "amzn2023": "alinux2023", "amazon2023": "alinux2023",
    "amazonlinux": "alinux2023", "alinux": "alinux2023", "al2": "alinux2023", "alinux2": "alinux2023",
    "amazonlinux2": "alinux2023", "ubuntu": "ubuntu2404", "ubuntu22": "ubuntu2204", "ubuntu2204lts": "ubuntu2204",
    "jammy": "ubuntu2204", "ubuntu24": "ubuntu2404", "noble": "ubuntu2404", "rhel": "rhel9", "redhat8": "rhel8",
    "redhat9": "rhel9", "rockylinux8": "rocky8", "rockylinux9": "rocky9", "rocky": "rocky9",
}


def choice_suggestion(value: str, choices) -> str | None:
    """The allowed choice a mistyped one most likely means (forgiving about case, dots, hyphens, spaces and
    common names: 'Ubuntu 22.04' -> ubuntu2204, 'al2023' -> alinux2023)."""
    choices = list(choices)
    squash = re.sub(r"[^a-z0-9]", "", value.strip().lower())
    for c in choices:
        if squash == re.sub(r"[^a-z0-9]", "", c):
            return c
    alias = OS_ALIASES.get(squash) or OS_ALIASES.get(squash.replace("lts", ""))
    if alias in choices:
        return alias
    m = re.fullmatch(r"ubuntu(\d{2})(\d{2})?\d*", squash)
    if m and f"ubuntu{m.group(1)}{m.group(2) or '04'}" in choices:
        return f"ubuntu{m.group(1)}{m.group(2) or '04'}"
    return did_you_mean(value, choices)


def instance_arch(value: str) -> str:
    """'arm64' for Graviton types (c7g, m6gd, hpc7g, g5g, im4gn, a1, ...), 'x86_64' otherwise."""
    fam = value.split(".", 1)[0].split("-", 1)[0]
    if fam == "a1":
        return "arm64"
    m = re.fullmatch(r"^([a-z]+)(\d+)([a-z]*)$", fam)
    if m and m.group(3).startswith("g") and m.group(1) not in ("mac",):
        return "arm64"
    return "x86_64"


GPU_FAMILIES = ("p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g3", "g3s", "g4dn", "g4ad", "g5", "g5g",
                "g6", "g6e", "g6f", "gr6", "gr6f", "g7e")
ACCEL_FAMILIES = ("trn1", "trn1n", "trn2", "trn2n", "inf1", "inf2", "dl1", "dl2q", "f1", "f2", "vt1")


def instance_family(value: str) -> str:
    return value.split(".", 1)[0]


def is_gpu(value: str) -> bool:
    return instance_family(value) in GPU_FAMILIES


def size_rank(value: str) -> int:
    """Rough vCPU count implied by the size suffix (xlarge=4, 8xlarge=32, metal≈max)."""
    size = value.split(".", 1)[1] if "." in value else ""
    table = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
    if size in table:
        return table[size]
    m = re.fullmatch(r"^(\d+)xlarge$", size)
    if m:
        return int(m.group(1)) * 4
    if size.startswith("metal"):
        m = re.fullmatch(r"^metal-(\d+)xl$", size)
        return int(m.group(1)) * 4 if m else 192
    return 0


def posix_name_problem(value: str, what: str = "user name") -> str | None:
    if not POSIX_NAME_RE.fullmatch(value):
        return (f"{what} {value!r} must start with a lowercase letter or _, contain only lowercase letters, "
                "digits, _ and -, and be at most 32 characters")
    return None


def id_problem(value: int, what: str) -> str | None:
    if not (UID_MIN <= value <= UID_MAX):
        return (f"{what} {value} is outside {UID_MIN}–{UID_MAX} (below {UID_MIN} is the system range used by "
                f"OS and service accounts; above {UID_MAX} collides with nobody/nogroup and container ranges)")
    return None


def mount_point_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return f"mount point {value!r} must be an absolute path (start with /)"
    if not MOUNT_RE.fullmatch(value):
        return f"mount point {value!r} may contain only letters, digits, '.', '_', '-' and '/'"
    parts = value.split("/")
    if any(p in (".", "..") for p in parts):
        return f"mount point {value!r} must not contain '.' or '..' components"
    norm = "/" + "/".join(p for p in parts if p)
    if norm in FORBIDDEN_MOUNTS:
        return f"{norm} is a system directory; mount data somewhere else (for example /data or /shared/data)"
    for tree in FORBIDDEN_TREES:
        if norm == tree or norm.startswith(tree + "/"):
            return f"mount point {norm} is inside {tree}, which the operating system or cluster software owns"
    if len(norm) > 255:
        return "mount point is longer than 255 characters"
    return None


OUTPUT_WORDS = ("checkpoint", "ckpt", "result", "output", "out", "scratch", "artifact", "log", "export", "upload",
                "work", "tmp", "save", "write", "dump", "snapshot")


def looks_like_output(mount_point: str) -> bool:
    """True when a mount point's name says jobs will write there (/shared/checkpoints, /results, /scratch/out)."""
    parts = [p for p in re.split(r"[/_.-]+", mount_point.lower()) if p]
    return any(p == w or p.startswith(w) and (len(p) - len(w) <= 2 or w in ("checkpoint", "artifact", "output"))
               for p in parts for w in OUTPUT_WORDS)


def normalize_mount(value: str) -> str:
    return "/" + "/".join(p for p in value.split("/") if p)


def bucket_problem(value: str) -> str | None:
    """Amazon S3 general-purpose bucket naming rules."""
    if value.startswith("s3://"):
        return f"bucket {value!r} should be the bucket name only, without s3:// (use prefix: for a folder)"
    if not (3 <= len(value) <= 63):
        return f"bucket name {value!r} must be 3 to 63 characters long"
    if not re.fullmatch(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", value):
        if "/" in value:
            return f"bucket name {value!r} must not contain '/'; put the folder in prefix:"
        return (f"bucket name {value!r} may contain only lowercase letters, digits, dots and hyphens, "
                "and must start and end with a letter or digit")
    if ".." in value or ".-" in value or "-." in value:
        return f"bucket name {value!r} must not contain two adjacent periods or a period next to a hyphen"
    if re.fullmatch(r"^\d+\.\d+\.\d+\.\d+$", value):
        return f"bucket name {value!r} must not look like an IP address"
    for pre in ("xn--", "sthree-", "amzn-s3-demo-"):
        if value.startswith(pre):
            return f"bucket name {value!r} must not start with {pre!r} (reserved by S3)"
    for suf in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if value.endswith(suf):
            return f"bucket name {value!r} must not end with {suf!r} (reserved by S3)"
    return None


def cidr_problem(value: str) -> str | None:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"{value!r} is not a CIDR block (for example 203.0.113.0/24, or 198.51.100.7/32 for one address)"
    if "/" not in value:
        return f"{value!r} needs a prefix length, for example {value}/32"
    if str(net) != value:
        return f"{value!r} has host bits set; did you mean {net}?"
    return None


def tag_problem(key: str, value: str) -> str | None:
    if not (1 <= len(key) <= 128):
        return f"tag key {key!r} must be 1 to 128 characters"
    if len(value) > 256:
        return f"tag value for {key!r} is longer than 256 characters"
    low = key.lower()
    if low.startswith("aws:"):
        return f"tag key {key!r} uses the reserved prefix aws:"
    if low.startswith("pctl:") or low.startswith("parallelcluster:"):
        return f"tag key {key!r} uses a prefix reserved for pctl and ParallelCluster"
    if not TAG_CHARS_RE.fullmatch(key) or not TAG_CHARS_RE.fullmatch(value):
        return (f"tag {key!r}: keys and values may contain only letters, digits, spaces and _ . : / = + - @")
    return None


MIRROR_MAX = 1024
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_PATH_SEGMENT_RE = re.compile(r"^(?:[A-Za-z0-9._~+=,-]|%[0-9A-Fa-f]{2})+$")


def mirror_url_problem(value: str) -> str | None:
    """A Spack build cache URL a template may name: ``https://HOST[:PORT]/PATH`` or ``s3://BUCKET/PATH``.

    Refused: other schemes (``file://`` reads the node's own disk, ``oci://``/``http://``...), credentials
    (``user:pass@``), queries and fragments, ``.``/``..`` and empty path parts (also percent-encoded),
    spaces and control characters."""
    if not isinstance(value, str) or not value:
        return "a mirror must be a URL such as https://cache.example.org/spack or s3://my-bucket/spack"
    shown = value if len(value) <= 120 else value[:117] + "..."
    if len(value) > MIRROR_MAX:
        return f"mirror {shown!r} is longer than {MIRROR_MAX} characters"
    if any(c.isspace() or not c.isprintable() for c in value):
        return f"mirror {shown!r} must not contain spaces or control characters"
    m = re.fullmatch(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", value)
    if m is None:
        return f"mirror {shown!r} must be an https:// or s3:// URL (e.g. s3://my-bucket/spack-cache)"
    scheme = m.group("scheme").lower()
    if scheme not in ("https", "s3"):
        why = {"file": "it would read the node's own disk", "http": "it is not encrypted",
               "oci": "pctl supports https:// and s3:// build caches"}.get(scheme, "pctl supports https:// and s3://")
        return f"mirror {shown!r}: only https:// and s3:// mirrors are accepted ({scheme}:// is not: {why})"
    authority, _, path = m.group("rest").partition("/")
    if "@" in value:
        return (f"mirror {shown!r} must not contain credentials or '@'; s3:// mirrors use the cluster's IAM role, "
                "https:// mirrors must be readable without a password")
    if "?" in value or "#" in value:
        return f"mirror {shown!r} must not have a query (?...) or a fragment (#...)"
    if scheme == "https":
        host, colon, port = authority.partition(":")
        if not _HOST_RE.fullmatch(host) or len(host) > 253:
            return f"mirror {shown!r} has no valid host name"
        if colon and (not port.isdigit() or not 1 <= int(port) <= 65535):
            return f"mirror {shown!r} has an invalid port"
    else:
        problem = bucket_problem(authority) if authority else "no bucket"
        if problem:
            return f"mirror {shown!r}: {problem}"
    if path:
        parts = path[:-1].split("/") if path.endswith("/") else path.split("/")
        for part in parts:
            traversal = f"mirror {shown!r} must not contain empty, '.' or '..' path parts (also percent-encoded)"
            if part in ("", ".", ".."):
                return traversal
            if not _PATH_SEGMENT_RE.fullmatch(part):
                return f"mirror {shown!r}: path parts may contain only letters, digits and . _ ~ + = , - (or %XX)"
            decoded = re.sub(r"%([0-9A-Fa-f]{2})", lambda x: chr(int(x.group(1), 16)), part)
            if decoded in (".", "..") or any(c in decoded for c in "/\\") or not decoded.isprintable():
                return traversal
    return None


def ssh_key_problem(value: str) -> str | None:
    import base64
    import binascii

    parts = value.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        return "not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment' or 'ssh-rsa AAAA...')"
    if "\n" in value or "\r" in value or "\x00" in value:
        return "an SSH public key must be one line"
    if not re.fullmatch(r"^[A-Za-z0-9+/]+={0,3}$", parts[1]):
        return "the key data of this SSH public key is not base64"
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return "the key data of this SSH public key is not valid base64"
    if len(blob) < 4:
        return "the SSH public key is truncated"
    n = int.from_bytes(blob[:4], "big")
    if blob[4:4 + n].decode("ascii", "replace") != parts[0]:
        return f"the key data does not match its type {parts[0]} (copied from the wrong place?)"
    if len(parts) == 3 and not all(0x20 <= ord(c) < 0x7F for c in parts[2]):
        return "the SSH key comment may contain only printable ASCII"
    return None


def did_you_mean(word: str, choices) -> str | None:
    import difflib

    choices = list(choices)
    m = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not m:
        low = {c.lower(): c for c in choices}
        m = difflib.get_close_matches(word.lower(), list(low), n=1, cutoff=0.6)
        m = [low[m[0]]] if m else []
    return m[0] if m else None


# vCPU counts where "N xlarge = 4N vCPUs" does not hold (HPC families run one thread per core).
VCPU_EXCEPTIONS = {
    "hpc6a.48xlarge": 96, "hpc6id.32xlarge": 64, "hpc7a.12xlarge": 24, "hpc7a.24xlarge": 48, "hpc7a.48xlarge": 96,
    "hpc7a.96xlarge": 192, "hpc7g.4xlarge": 16, "hpc7g.8xlarge": 32, "hpc7g.16xlarge": 64, "hpc8a.96xlarge": 192,
    "t2.nano": 1, "t2.micro": 1, "t2.small": 1, "t3.nano": 2, "t3.micro": 2, "m1.small": 1,
}


def vcpus(value: str) -> int | None:
    """Best offline estimate of an instance type's vCPU count; None when unknown (metal)."""
    if value in VCPU_EXCEPTIONS:
        return VCPU_EXCEPTIONS[value]
    size = value.split(".", 1)[1] if "." in value else ""
    if size.startswith("metal") and not re.fullmatch(r"^metal-\d+xl$", size):
        return None
    if instance_family(value).startswith("hpc"):
        return None
    return size_rank(value) or None


_T_MEMORY = {"nano": 0.5, "micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}


def memory_gib(value: str) -> float | None:
    """Offline memory estimate for the common head-node families (c, m, r, t); None when unknown."""
    fam = instance_family(value)
    size = value.split(".", 1)[1] if "." in value else ""
    m = re.fullmatch(r"([a-z]+)(\d+)([a-z-]*)", fam.split("-", 1)[0])
    if not m:
        return None
    letters = m.group(1)
    if letters == "t":
        return _T_MEMORY.get(size)
    if letters in _GIB_PER_VCPU and not size.startswith("metal"):
        n = vcpus(value)
        return n * _GIB_PER_VCPU[letters] if n else None
    return None


def head_node_memory_needed(total_max_nodes: int) -> float:
    """ParallelCluster's HeadNodeMemorySizeValidator: GiB the head node needs for the compute fleet."""
    return min(total_max_nodes / 25 + 0.6, 16)


COMPUTE_RESOURCE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def compute_resource_name_problem(value: str) -> str | None:
    """ParallelCluster's NameValidator for compute resources."""
    if len(value) > QUEUE_NAME_MAX:
        return f"compute resource name {value!r} is {len(value)} characters; at most {QUEUE_NAME_MAX} are allowed"
    if not COMPUTE_RESOURCE_NAME_RE.fullmatch(value):
        return (f"compute resource name {value!r} must start with a lowercase letter and contain only lowercase "
                "letters, digits and hyphens")
    if value == "default":
        return "'default' cannot be used as a compute resource name"
    return None


S3_KEY_RE = re.compile(r"^[A-Za-z0-9!_.*'()/=+-]+$")
HTTPS_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~/%+=@:-]*$")


def action_url_problem(value: str) -> str | None:
    """A custom action script: s3://bucket/key or https://host/path (ParallelCluster downloads it)."""
    if value.startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        problem = bucket_problem(bucket)
        if problem:
            return f"script {value!r}: {problem}"
        if not key or key.endswith("/") or not S3_KEY_RE.fullmatch(key) or "//" in key:
            return (f"script {value!r} must name an object (s3://bucket/path/script.sh) made of letters, digits "
                    "and ! _ . * ' ( ) / = + -")
        return None
    if value.startswith("https://"):
        if len(value) > 2048 or not HTTPS_URL_RE.fullmatch(value):
            return (f"script {value!r} must be an https:// URL made of letters, digits and . _ ~ / % + = @ : - "
                    "(no query string)")
        return None
    return f"script {value!r} must be an s3:// or https:// URL"


ACTION_ARG_RE = re.compile(r"^[A-Za-z0-9._,:=/@%+-]{1,1024}$")


def action_arg_problem(value: str) -> str | None:
    """Arguments ParallelCluster passes to a custom action script: one word each, no shell syntax."""
    if not ACTION_ARG_RE.fullmatch(value):
        return (f"custom action argument {value!r} may contain only letters, digits and . _ , : = / @ % + - "
                "(one word, at most 1024 characters; no spaces, quotes or shell characters)")
    return None
