"""The one AWS seam: boto3/botocore and client objects are used only in src/pctl/aws/.

Every AWS call lives in a per-service module (src/pctl/aws/<service>.py) that owns the call and its error
translation. Three files are exempt because they run on their own, away from pctl: the AMI build agent
(on the builder instance, boto3 and the standard library only), the builder's user data (a shell script
with a Python snippet that fetches the agent) and the idle timer's Lambda function.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "pctl"
SEAM = SRC / "aws"
EXEMPT = {
    "ami/agent.py": "runs alone on the AMI builder instance (boto3 + standard library, no pctl)",
    "ami/userdata.py": "user data run by the builder at boot: fetches the agent with boto3",
    "cost/idle/function.py": "the idle timer's Lambda function: runs alone in AWS Lambda",
}
AWS_LIBS = ("boto3", "botocore")


def violations(path: Path) -> list[str]:
    """`import boto3/botocore` (anywhere in the module, also inside functions) and `<x>.client(...)` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in AWS_LIBS:
                out.append(f"{node.lineno}: import {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client":
            out.append(f"{node.lineno}: {ast.unparse(node.func)}(...)")
    return out


def test_the_scan_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""calls aws.client("ec2") in a docstring: not code"""\n'
                   "def f(aws):\n"
                   "    from botocore.exceptions import ClientError\n"
                   "    import boto3.session\n"
                   "    return aws.client('ec2').describe_images(), ClientError\n")
    found = violations(bad)
    assert [v.split(":")[0] for v in found] == ["3", "4", "5"], found
    assert "import botocore.exceptions" in found[0] and "aws.client(...)" in found[2]


def test_no_aws_library_or_client_outside_the_seam():
    files = sorted(p for p in SRC.rglob("*.py") if SEAM not in p.parents)
    assert len(files) > 50, "the scan must see the source tree"
    found = {}
    for path in files:
        rel = path.relative_to(SRC).as_posix()
        if rel in EXEMPT:
            continue
        v = violations(path)
        if v:
            found[rel] = v
    assert not found, ("AWS calls belong in src/pctl/aws/<service>.py (a function that takes the Aws session and "
                       "owns its error translation); found outside it:\n"
                       + "\n".join(f"  src/pctl/{f}:{line}" for f, vs in found.items() for line in vs))


def test_exempt_files_still_exist_and_say_why():
    for rel in EXEMPT:
        path = SRC / rel
        assert path.is_file(), f"{rel} is exempt from the AWS seam rule but no longer exists: drop it from EXEMPT"
        assert "pctl.aws seam" in path.read_text(encoding="utf-8"), f"{rel}: say at its client calls why it is exempt"
