"""Resource Groups Tagging API: find what pctl made by its tags."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def resources_with_tag(aws, key: str, value: str, *, resource_types: list[str] | None = None,
                       region: str | None = None) -> list[dict]:
    client = aws.client("resourcegroupstaggingapi", region=region)
    out: list[dict] = []
    with aws_errors():
        kwargs = {"TagFilters": [{"Key": key, "Values": [value]}]}
        if resource_types:
            kwargs["ResourceTypeFilters"] = resource_types
        for page in client.get_paginator("get_resources").paginate(**kwargs):
            out += page.get("ResourceTagMappingList", [])
    return out


def enabled_regions(aws) -> list[str]:
    with aws_errors():
        return sorted(r["RegionName"] for r in aws.client("ec2").describe_regions(
            Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}])["Regions"])


def cluster_stacks_with_tag(aws, key: str, value: str, *, regions: list[str] | None = None) -> list[tuple[str, str]]:
    """(stack name, region) of CloudFormation stacks tagged KEY=VALUE that also carry pctl:cluster (a
    cluster's root stack), in REGIONS (default: the session's region first, then every enabled region)."""
    from pctl.errors import PctlError

    found = []
    regions = regions or [aws.region]
    for region in regions:
        try:
            res = resources_with_tag(aws, key, value, resource_types=["cloudformation:stack"], region=region)
        except PctlError:
            continue
        for r in res:
            tags = {t["Key"]: t["Value"] for t in r.get("Tags", [])}
            name = r["ResourceARN"].split(":stack/", 1)[-1].split("/", 1)[0]
            if tags.get("pctl:cluster") == name:
                found.append((name, region))
    return found
