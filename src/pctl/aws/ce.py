"""Cost Explorer (a global service; every call costs $0.01, so pctl makes one per report)."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def _client(aws):
    return aws.client("ce", region="us-east-1")


def cost_and_usage(aws, *, start: str, end: str, granularity: str, group_by: list[dict],
                   filter_: dict | None = None, metric: str = "UnblendedCost") -> list[dict]:
    """ResultsByTime of GetCostAndUsage, every page."""
    out: list[dict] = []
    kwargs = {"TimePeriod": {"Start": start, "End": end}, "Granularity": granularity, "Metrics": [metric],
              "GroupBy": group_by}
    if filter_:
        kwargs["Filter"] = filter_
    with aws_errors():
        token = None
        for _ in range(100):
            if token:
                kwargs["NextPageToken"] = token
            resp = _client(aws).get_cost_and_usage(**kwargs)
            out += resp.get("ResultsByTime", [])
            token = resp.get("NextPageToken")
            if not token:
                break
    return out


def cost_allocation_tags(aws, keys: list[str]) -> dict[str, str] | None:
    """{tag key: "Active"|"Inactive"} for KEYS that AWS has seen; None when the account cannot tell
    (no permission, or an emulator without the call). A key AWS has never seen on a resource is absent."""
    from pctl.errors import PctlError

    try:
        with aws_errors():
            resp = _client(aws).list_cost_allocation_tags(TagKeys=keys, Type="UserDefined")
    except PctlError:
        return None
    return {t["TagKey"]: t["Status"] for t in resp.get("CostAllocationTags", [])}


def activate_cost_allocation_tags(aws, keys: list[str]) -> list[dict]:
    """Activate KEYS as cost allocation tags (management account, or a member allowed to). Returns errors."""
    with aws_errors():
        resp = _client(aws).update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in keys])
    return resp.get("Errors", [])
