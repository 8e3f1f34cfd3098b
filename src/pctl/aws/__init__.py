"""The one seam for AWS: the only package that imports boto3/botocore.

Everything else asks `Aws` for clients (one session per command: profile, region, AWS_* variables,
AWS_ENDPOINT_URL), and wraps calls in `aws_errors()` so botocore failures become PctlErrors that say
what to do.
"""

from pctl.aws.session import Aws, aws_errors  # noqa: F401
