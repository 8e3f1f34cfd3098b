"""STS: who the caller is (the first call of every command that changes something: credentials checked here)."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def identity(aws) -> dict:
    with aws_errors():
        return aws.client("sts").get_caller_identity()


def account_id(aws) -> str:
    return aws.account_id
