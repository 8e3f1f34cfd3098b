"""botocore failures become messages a researcher can act on."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from pctl.aws.errors import translate


def client_error(code, message, op="CreateVpc"):
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


@pytest.mark.parametrize("exc,words,hint", [
    (client_error("ExpiredToken", "The security token included in the request is expired"),
     "credentials have expired", "aws sso login"),
    (client_error("UnauthorizedOperation", "You are not authorized to perform: ec2:CreateVpc on resource"),
     "missing AWS permission ec2:CreateVpc", "administrator"),
    (client_error("AccessDenied", "User: arn:aws:iam::1:user/x is not authorized to perform: s3:PutObject"),
     "missing AWS permission s3:PutObject", None),
    (client_error("VpcLimitExceeded", "The maximum number of VPCs has been reached."), "VPC quota", "pctl network list"),
    (client_error("AddressLimitExceeded", "The maximum number of addresses has been reached."), "Elastic IP quota",
     "--public-only"),
    (client_error("RequestLimitExceeded", "Request limit exceeded."), "throttling", "wait"),
    (NoCredentialsError(), "no AWS credentials", "aws configure"),
    (NoRegionError(), "no AWS region", "--region"),
    (EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com"), "cannot reach AWS", "network"),
])
def test_translate(exc, words, hint):
    err = translate(exc)
    assert words in err.message
    if hint:
        assert hint in err.hint
    assert err.exit_code == 1


def test_unknown_error_keeps_code_and_message():
    err = translate(client_error("InvalidSubnetID.NotFound", "The subnet ID 'subnet-1' does not exist", "DescribeSubnets"))
    assert err.message == "AWS error during DescribeSubnets: InvalidSubnetID.NotFound: The subnet ID 'subnet-1' does not exist"
