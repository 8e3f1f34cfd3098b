from __future__ import annotations

import click


def aws_options(f):
    f = click.option("--profile", default=None, envvar="AWS_PROFILE", help="AWS profile (default: AWS_PROFILE).")(f)
    f = click.option("--region", default=None, help="AWS region (default: AWS_REGION / your AWS config).")(f)
    return f


def make_aws(profile, region):
    from pctl.aws import Aws

    if region:
        from pctl.errors import UsageError
        from pctl.template.rules import region_problem

        problem = region_problem(region)
        if problem:
            raise UsageError(f"--region: {problem}")
    return Aws(profile=profile, region=region)
