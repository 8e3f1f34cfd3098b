"""AWS Price List API (service 'pricing'). Its endpoints live in us-east-1, eu-central-1 and ap-south-1
only; prices of every region are served from each of them."""

from __future__ import annotations

import json

from pctl.aws.session import aws_errors

ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")


def endpoint_region(region: str) -> str:
    """The Price List endpoint nearest to REGION (any of them answers for every region)."""
    if region.startswith(("eu-", "me-", "af-", "il-")):
        return "eu-central-1"
    if region.startswith("ap-"):
        return "ap-south-1"
    return "us-east-1"


def get_products(aws, service_code: str, attributes: dict[str, str], *, max_pages: int = 50,
                 max_attempts: int | None = None) -> list[dict]:
    """Every product of SERVICE_CODE whose attributes equal ATTRIBUTES (TERM_MATCH), JSON-decoded.

    A missing permission (pricing:GetProducts) becomes an AwsError naming it."""
    client = aws.client("pricing", region=endpoint_region(attributes.get("regionCode", aws.region)),
                        max_attempts=max_attempts)
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in attributes.items()]
    out: list[dict] = []
    token = None
    with aws_errors():
        for _ in range(max_pages):
            kwargs = {"ServiceCode": service_code, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            resp = client.get_products(**kwargs)
            for entry in resp.get("PriceList", []):
                out.append(json.loads(entry) if isinstance(entry, str) else entry)
            token = resp.get("NextToken")
            if not token:
                break
    return out
