"""Turn botocore failures into messages a researcher can act on."""

from __future__ import annotations

import re

from pctl.errors import PctlError

QUOTA_HINTS = {
    "VpcLimitExceeded": ("VPC quota reached in this region (5 by default)",
                         "pctl uses one network per region; delete an unused VPC (pctl network list) or request a "
                         "quota increase in the Service Quotas console"),
    "AddressLimitExceeded": ("Elastic IP quota reached in this region (5 by default)",
                             "release unused Elastic IPs, use --public-only (no NAT gateway, no Elastic IP), or "
                             "request a quota increase"),
    "NatGatewayLimitExceeded": ("NAT gateway quota reached", "delete unused NAT gateways or use --public-only"),
    "InternetGatewayLimitExceeded": ("internet gateway quota reached", "delete unused internet gateways"),
    "VcpuLimitExceeded": ("vCPU quota for this instance family reached", "request a quota increase for EC2 vCPUs"),
    "InstanceLimitExceeded": ("instance quota reached", "request a quota increase"),
    "TooManyBuckets": ("S3 bucket quota reached", "delete unused buckets or request a quota increase"),
}

CRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
              "UnrecognizedClientException", "AuthFailure", "SignatureDoesNotMatch", "InvalidToken"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden",
                "UnauthorizedAccess", "AuthorizationError"}


#: failures that may pass on their own: worth retrying (network, throttling, AWS's own 5xx errors)
TRANSIENT_CODES = {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError",
                   "ConnectionError", "Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown",
                   "InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout",
                   "RequestTimeoutException", "500", "502", "503", "504", "ResponseParserError"}


def is_transient(exc: BaseException) -> bool:
    """True for an AwsError (or botocore error) that may pass on its own."""
    code = getattr(exc, "code", None) or type(exc).__name__
    return str(code) in TRANSIENT_CODES


class AwsError(PctlError):
    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None, operation: str | None = None):
        super().__init__(message, hint=hint)
        self.code = code
        self.operation = operation


def _action_from(message: str, operation: str | None) -> str | None:
    m = re.search(r"(?:perform|to perform)[: ]+([a-z0-9-]+:[A-Za-z0-9*]+)", message)
    if m:
        return m.group(1)
    m = re.search(r"\b([a-z0-9-]+:[A-Z][A-Za-z0-9]+)\b", message)
    if m:
        return m.group(1)
    return operation


def translate(exc: BaseException, *, service: str | None = None) -> AwsError:
    """A botocore exception -> AwsError with a message and a fix."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return AwsError("no AWS credentials found",
                        hint="run 'aws configure' (or 'aws sso login'), or set AWS_PROFILE / AWS_ACCESS_KEY_ID",
                        code=name)
    if name in ("NoRegionError",):
        return AwsError("no AWS region set", hint="pass --region, set cluster.region, or set AWS_REGION", code=name)
    if name in ("ProfileNotFound",):
        return AwsError(str(exc), hint="list profiles with 'aws configure list-profiles'", code=name)
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError"):
        return AwsError(f"cannot reach AWS: {exc}", hint="check your network, proxy and region", code=name)
    if name in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"):
        return AwsError("your AWS SSO session has expired", hint="run 'aws sso login'", code=name)
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {}) if isinstance(response, dict) else {}
    code = str(err.get("Code") or name)
    message = str(err.get("Message") or exc)
    operation = getattr(exc, "operation_name", None)
    if code in CRED_CODES:
        expired = "expire" in message.lower() or "Expired" in code
        return AwsError("your AWS credentials have expired" if expired else f"AWS rejected your credentials ({code})",
                        hint="refresh them ('aws sso login', or a new session token) and try again", code=code,
                        operation=operation)
    if code in DENIED_CODES or "not authorized" in message.lower():
        action = _action_from(message, operation)
        what = f"permission {action}" if action and ":" in action else f"permission for {operation or 'this call'}"
        return AwsError(f"missing AWS {what}",
                        hint="ask your AWS administrator to allow it for your role (pctl doctor lists what pctl needs)",
                        code=code, operation=operation)
    if code in ("InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"):
        ids = re.findall(r"ami-[0-9a-zA-Z]+", message)
        what = ids[0] if ids else "the AMI"
        if code == "InvalidAMIID.Malformed":
            return AwsError(f"{what} is not a valid AMI id (ami- and 8 or 17 hex digits)", code=code,
                            operation=operation, hint="list pctl AMIs with 'pctl ami list'")
        return AwsError(f"AMI {what} does not exist in this region (or your account cannot use it)", code=code,
                        operation=operation, hint="an AMI belongs to one region: check the region, list pctl AMIs "
                                                  "with 'pctl ami list', or copy it with 'aws ec2 copy-image'")
    if code in QUOTA_HINTS:
        text, hint = QUOTA_HINTS[code]
        return AwsError(text, hint=hint, code=code, operation=operation)
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown"):
        return AwsError("AWS is throttling requests", hint="wait a minute and run the command again", code=code,
                        operation=operation)
    op = f" during {operation}" if operation else ""
    return AwsError(f"AWS error{op}: {code}: {message}", code=code, operation=operation)
