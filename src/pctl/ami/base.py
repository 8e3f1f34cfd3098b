"""The official ParallelCluster AMI a build starts from: the template's OS, the architecture of its
instance types, and the installed ParallelCluster version (an AMI is tied to one version)."""

from __future__ import annotations

import os

from pctl.errors import PctlError

#: pctl OS name -> the OS part of ParallelCluster's official AMI names
OS_AMI_PART = {
    "alinux2023": "amzn2023",
    "alinux2": "amzn2",
    "ubuntu2204": "ubuntu-2204-lts",
    "ubuntu2404": "ubuntu-2404-lts",
    "rhel8": "rhel8",
    "rhel9": "rhel9",
    "rocky8": "rocky8",
    "rocky9": "rocky9",
}
ARCHES = ("x86_64", "arm64")
#: Owners of the official images. PCTL_AMI_BASE_OWNERS (comma separated) replaces it: tests use
#: "self" because an emulator cannot register images as Amazon; a partition whose official images
#: are published by an account id can be named the same way.
OFFICIAL_OWNERS = ("amazon",)
DEFAULT_ROOT_GB = 40


def base_owners() -> list[str]:
    env = os.environ.get("PCTL_AMI_BASE_OWNERS", "").strip()
    return [o.strip() for o in env.split(",") if o.strip()] if env else list(OFFICIAL_OWNERS)


def name_pattern(os_name: str, arch: str, pcluster_version: str) -> str:
    if os_name not in OS_AMI_PART:
        raise PctlError(f"pctl cannot build AMIs for OS {os_name!r}",
                        hint="supported: " + ", ".join(sorted(OS_AMI_PART)))
    if arch not in ARCHES:
        raise PctlError(f"unknown architecture {arch!r}")
    return f"aws-parallelcluster-{pcluster_version}-{OS_AMI_PART[os_name]}-hvm-{arch}-*"


def find_base_image(aws, os_name: str, arch: str, pcluster_version: str, owners: list[str] | None = None) -> dict:
    """The newest available official image: {image_id, name, created, root_device, root_gb}."""
    from pctl.aws import ec2

    pattern = name_pattern(os_name, arch, pcluster_version)
    owners = owners or base_owners()
    imgs = ec2.images(aws, owners=owners, filters=[
        {"Name": "name", "Values": [pattern]},
        {"Name": "state", "Values": ["available"]},
    ])
    # the name carries the architecture; an image that says otherwise is not the one
    imgs = [i for i in imgs if i.get("Architecture") in (None, "", arch)]
    if not imgs:
        raise PctlError(
            f"no official ParallelCluster AMI found in {aws.region} for {os_name} on {arch} with ParallelCluster "
            f"{pcluster_version} (looked for images named {pattern} owned by {', '.join(owners)})",
            hint="check the region supports this OS and architecture, or install the ParallelCluster version that "
                 "has images there (pip install aws-parallelcluster==X)")
    img = sorted(imgs, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")))[-1]
    root_dev = img.get("RootDeviceName") or "/dev/xvda"
    root_gb = DEFAULT_ROOT_GB
    for bdm in img.get("BlockDeviceMappings", []):
        if bdm.get("DeviceName") == root_dev and bdm.get("Ebs", {}).get("VolumeSize"):
            root_gb = int(bdm["Ebs"]["VolumeSize"])
    tags = ec2.tags_of(img)
    return {"image_id": img["ImageId"], "name": img.get("Name", ""), "created": img.get("CreationDate", ""),
            "root_device": root_dev, "root_gb": root_gb, "owner": img.get("OwnerId", ""), "tags": tags}
