"""Read what an AMI holds (its manifest) from AWS: the image's tags, and the build record in the
pctl bucket when the package list did not fit in the tags. The decision itself is in layers.py."""

from __future__ import annotations

from pctl.errors import PctlError
from pctl.software.manifest import AmiSoftware, from_tags, unreadable


def manifest_for(aws, image_id: str, tags: dict[str, str], name: str = "") -> AmiSoftware:
    """The manifest of an image whose tags are known (read the build record only when needed)."""
    record = None
    if tags.get("pctl:specs-in") == "s3" and tags.get("pctl:build-id"):
        from pctl.ami.store import BuildStore

        try:
            record = BuildStore(aws).get_json(tags["pctl:build-id"], "state.json")
        except PctlError:
            record = None
    return from_tags(image_id, tags, name=name or tags.get("Name", ""), record=record)


def read_ami(aws, ref: str) -> tuple[str, AmiSoftware]:
    """(image id, manifest) of an AMI id or pctl AMI name; PctlError when there is no such image."""
    from pctl.aws.ec2 import find_image, tags_of

    img = find_image(aws, ref)
    if img is None:
        raise PctlError(f"no available AMI found for {ref!r}",
                        hint="list pctl AMIs with 'pctl ami list'; build one with 'pctl ami build -t TEMPLATE --name NAME'")
    return img["ImageId"], manifest_for(aws, img["ImageId"], tags_of(img), name=img.get("Name", ""))


def lookup_for_plan(ref: str, region: str | None, profile: str | None = None) -> tuple[str, AmiSoftware]:
    """For ``create --dry-run``: read the AMI when AWS credentials allow it (one read-only call);
    otherwise the AMI counts as unreadable, with the reason, exactly as create would treat it."""
    try:
        from pctl.aws import Aws

        aws = Aws(profile=profile, region=region)
        return read_ami(aws, ref)
    except PctlError as exc:
        return ref, unreadable(ref, f"the dry run could not read it ({exc})", looked_up=False)
