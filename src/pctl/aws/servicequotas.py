"""Service Quotas: a quota's value, or the AWS default when it cannot be read (not every account may)."""

from __future__ import annotations

from pctl.aws.errors import AwsError
from pctl.aws.session import aws_errors


def quota(aws, service: str, code: str, default: float) -> float:
    try:
        with aws_errors():
            return float(aws.client("service-quotas").get_service_quota(ServiceCode=service, QuotaCode=code)
                         ["Quota"]["Value"])
    except AwsError:
        return default
