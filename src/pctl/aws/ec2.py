"""EC2 calls pctl makes outside the network and cluster code: images (AMIs) and their tags."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def tags_of(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def find_image(aws, ref: str) -> dict | None:
    """The newest available image for ``ref``: an AMI id, or the name given to ``pctl ami build --name``
    (its ``pctl:name`` tag, also written ``ami-NAME``), or an image name in this account."""
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
        return None
    return sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1]
