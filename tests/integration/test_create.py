"""`pctl create` through the real ParallelCluster (pcluster.lib) against the moto server.

No stand-in for ParallelCluster: create runs ParallelCluster's real validators, its CDK synthesis (Node.js), its
bucket and its CloudFormation CreateStack. moto cannot run ParallelCluster's stack (no CloudWatch alarms, no custom
resources) and refuses the template: that refusal is the expected end of a create here, and what the tests check is
that pctl reports it as a clean failure and removes everything the run made.
"""

from __future__ import annotations

import json
import shutil

import pytest

from pctl import library
from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.create import create_cluster
from pctl.cluster.plan import CreateOptions
from pctl.errors import PctlError

pytestmark = pytest.mark.slow

MOTO_REFUSAL = "Fn::GetAtt references undefined resource"
AL2023 = {"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
          "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"}


@pytest.fixture(autouse=True)
def _needs_pcluster_and_node():
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js (./scripts/test installs it)")


@pytest.fixture
def ssh_dir(tmp_path, monkeypatch):
    d = tmp_path / "ssh"
    monkeypatch.setenv("PCTL_SSH_DIR", str(d))
    return d


def provision(region: str, arch: str = "x86_64", key: str = "lab-key") -> str:
    """What a user has before create: a key pair, and an AMI (moto has no official ParallelCluster AMIs)."""
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    if not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [key]}])["KeyPairs"]:
        ec2.create_key_pair(KeyName=key, KeyType="ed25519")
    return boto3.client("ssm", region_name=region).get_parameter(Name=AL2023[arch])["Parameter"]["Value"]


def leftovers(region: str) -> dict:
    """Everything a pctl run could have made in the region, still there."""
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    cfn = boto3.client("cloudformation", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    iam = boto3.client("iam", region_name=region)
    stacks = [s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"]
    objects = []
    for b in s3.list_buckets()["Buckets"]:
        if b["Name"].startswith("pctl-"):
            objects += [o["Key"] for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", [])]
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]}
    logs = boto3.client("logs", region_name=region)
    r53 = boto3.client("route53", region_name=region)
    return {
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "hosted_zones": [z["Name"] for z in r53.list_hosted_zones()["HostedZones"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
                            if g["GroupName"] != "default"],
        "launch_templates": [lt["LaunchTemplateName"] for lt in ec2.describe_launch_templates()["LaunchTemplates"]],
        "stacks": stacks,
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["VpcId"] not in default_vpcs],
        "nat_gateways": [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]
                         if n["State"] not in ("deleted", "deleting")],
        "elastic_ips": [a.get("AllocationId") for a in ec2.describe_addresses()["Addresses"]],
        "bucket_objects": objects,
        "pctl_policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/pctl/")["Policies"]],
    }


NOTHING = {"stacks": [], "vpcs": [], "nat_gateways": [], "elastic_ips": [], "bucket_objects": [], "pctl_policies": [],
           "log_groups": [], "hosted_zones": [], "roles": [], "security_groups": [], "launch_templates": []}


def _create(template, *, ami=None, region="us-east-1", **kw):
    opts = CreateOptions(template=template, key_name="lab-key", custom_ami=ami, ssh_cidr="198.51.100.7/32",
                         suppress_validators=EMULATOR_SUPPRESSED, region=kw.pop("region_flag", None), **kw)
    return create_cluster(opts, use_catalog=False, yes=True, poll=0.05)


def test_bioinformatics_reaches_cloudformation_through_pcluster_and_rolls_back(aws_env, ssh_dir, capsys):
    ami = provision("us-east-1")
    said = []
    with pytest.raises(PctlError) as exc:
        create_cluster(CreateOptions(template="bioinformatics", key_name="lab-key", custom_ami=ami,
                                     ssh_cidr="198.51.100.7/32", suppress_validators=EMULATOR_SUPPRESSED),
                       use_catalog=False, yes=True, poll=0.05, say=said.append)
    # ParallelCluster validated the config, synthesized its stack and called CreateStack; moto refused it
    assert "ParallelCluster could not create the cluster" in exc.value.message
    assert MOTO_REFUSAL in exc.value.message
    assert any("pctl-network-us-east-1: CREATE_COMPLETE" in s for s in said)
    assert any(s.startswith("creating cluster bioinformatics with ParallelCluster") for s in said)
    assert any("rolled back the pctl network" in s for s in said)
    assert leftovers("us-east-1") == NOTHING
    out = capsys.readouterr()
    assert "Node" not in out.err and "!!" not in out.err  # Node.js/jsii banners stay out of the terminal


def test_the_config_create_submits_is_the_dry_run_apart_from_resolved_ids(aws_env, ssh_dir, tmp_path):
    """The dry run renders what create submits: compare field by field, ids normalised."""
    import yaml

    from pctl.cluster.plan import dry_run

    ami = provision("us-east-1")
    opts = CreateOptions(template="bioinformatics", key_name="lab-key", custom_ami=ami, ssh_cidr="198.51.100.7/32",
                         suppress_validators=EMULATOR_SUPPRESSED, region="us-east-1")
    dry = dry_run(opts, use_catalog=False)
    with pytest.raises(PctlError) as exc:
        create_cluster(opts, use_catalog=False, yes=True, poll=0.05)
    saved = exc.value.hint.rsplit("the config it was given: ", 1)[1]
    submitted = yaml.safe_load(open(saved, encoding="utf-8"))
    plan = json.loads(open(saved.replace("cluster-config.yaml", "plan.json"), encoding="utf-8").read())
    subst = {"123456789012": "ACCOUNT"}
    subst[plan["head_node"]["subnet"]] = dry["plan"]["head_node"]["subnet"]
    for q_real, q_dry in zip(plan["queues"], dry["plan"]["queues"]):
        assert len(q_real["subnets"]) == len(q_dry["subnets"]), q_real["name"]
        for a, b in zip(q_real["subnets"], q_dry["subnets"]):
            subst[a] = b
    run = plan["bucket"]["prefix"].rstrip("/").rsplit("/", 1)[1]
    subst[run] = "dry-run"
    text = json.dumps(submitted, sort_keys=True)
    for real, placeholder in subst.items():
        text = text.replace(real, placeholder)
    assert json.loads(text) == json.loads(json.dumps(dry["config"], sort_keys=True))
    # and the zones agree: two zones for spread queues, one for the rest, as the plan says
    assert [q["zones"] for q in dry["plan"]["queues"]] == [["zone 1", "zone 2"]] * 2
    assert [len(set(q["zones"])) for q in plan["queues"]] == [2, 2]


@pytest.mark.parametrize("name", library.names())
def test_every_library_template_reaches_cloudformation_and_leaves_nothing(name, aws_env, ssh_dir):
    from pctl.cluster.plan import prepare

    t = prepare(CreateOptions(template=name), use_catalog=False).template
    region = t.cluster.region or "us-east-1"
    ami = provision(region, t.arch)
    with pytest.raises(PctlError) as exc:
        create_cluster(CreateOptions(template=name, key_name="lab-key", custom_ami=ami, ssh_cidr="198.51.100.7/32",
                                     suppress_validators=EMULATOR_SUPPRESSED),
                       use_catalog=False, yes=True, poll=0.05)
    assert MOTO_REFUSAL in exc.value.message, exc.value.message  # past every ParallelCluster validator
    assert leftovers(region) == NOTHING


def test_parallelcluster_validation_errors_are_pctl_diagnostics(aws_env, ssh_dir, tmp_path):
    """A config ParallelCluster refuses comes back in pctl's terms: the template field, the message, a hint."""
    ami = provision("us-east-1")
    t = tmp_path / "efa.yaml"
    t.write_text("""
cluster: {name: efa-test, region: us-east-1}
compute:
  head_node: t3.large
  queues:
    - {name: mpi, instance_types: [c5.large], max_count: 2, efa: true}
""")
    with pytest.raises(PctlError) as exc:
        create_cluster(CreateOptions(template=str(t), key_name="lab-key", custom_ami=ami, ssh_cidr="198.51.100.7/32",
                                     suppress_validators=EMULATOR_SUPPRESSED), use_catalog=False, yes=True, poll=0.05)
    assert "ParallelCluster refused the configuration" in exc.value.message
    diags = exc.value.diagnostics
    efa = [d for d in diags if d["validator"] == "InstancesEFAValidator"]
    assert efa and efa[0]["path"] == "compute.queues[0].efa" and efa[0]["level"] == "ERROR"
    assert "c5.large" in efa[0]["message"] and efa[0]["hint"]
    assert "compute.queues[0].efa" in exc.value.message
    assert leftovers("us-east-1") == NOTHING


def test_json_failure_is_one_json_object_on_stdout(aws_env, ssh_dir):
    from support.cli import run_pctl

    provision("us-east-1")
    r = run_pctl("create", "-t", "minimal", "--key-name", "no-such-key", "--ssh-cidr", "198.51.100.7/32", "--yes",
                 "--json", env=aws_env, timeout=300)
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert "key pair 'no-such-key' does not exist" in err["message"] and "lab-key" in err["hint"]
    assert leftovers("us-east-1") == NOTHING  # pre-flight: nothing was made


def test_preflight_refuses_before_anything_is_made(aws_env, ssh_dir):
    provision("us-east-1")
    # an AMI that does not exist
    with pytest.raises(PctlError, match="no AMI found for 'ami-0123456789abcdef0'"):
        _create("minimal", ami="ami-0123456789abcdef0")
    assert leftovers("us-east-1") == NOTHING


def test_an_ami_whose_build_is_still_running_is_named_with_its_build(aws_env, ssh_dir):
    """`pctl ami build --name gromacs-2026 --detach`, then create with --custom-ami gromacs-2026 too early."""
    import boto3

    from pctl.ami.store import BuildStore
    from pctl.aws import Aws

    provision("us-east-1")
    aws = Aws(region="us-east-1")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=aws.pctl_bucket())
    store = BuildStore(aws)
    store.put_json("b-20261204-090000-ab12", "state.json", {"build_id": "b-20261204-090000-ab12", "name": "gromacs-2026",
                                                             "status": "building", "step": "software"})
    with pytest.raises(PctlError) as exc:
        _create("minimal", ami="gromacs-2026")
    assert "its build b-20261204-090000-ab12 is building (step software)" in exc.value.message
    assert "pctl ami status b-20261204-090000-ab12 --watch" in exc.value.hint
    store.put_json("b-20261204-090000-ab12", "state.json", {"build_id": "b-20261204-090000-ab12", "name": "gromacs-2026",
                                                             "status": "failed", "step": "software"})
    with pytest.raises(PctlError, match="its build b-20261204-090000-ab12 failed"):
        _create("minimal", ami="gromacs-2026")
    with pytest.raises(PctlError, match="no AMI found for 'other-name'"):
        _create("minimal", ami="other-name")
    left = leftovers("us-east-1")
    assert left["bucket_objects"] == ["builds/b-20261204-090000-ab12/state.json"]
    assert {k: v for k, v in left.items() if k != "bucket_objects"} == {k: v for k, v in NOTHING.items()
                                                                         if k != "bucket_objects"}


def test_expired_or_missing_credentials_are_a_clear_error(aws_env, ssh_dir, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PctlError) as exc:
        _create("minimal")
    assert "credentials" in exc.value.message and "internal" not in exc.value.message.lower()


def test_same_name_create_fails_fast_and_leaves_the_other_alone(aws_env, ssh_dir):
    """The cluster's pctl stack is a lock: a second create of the same name stops before it touches anything."""
    import boto3

    from pctl.cluster import stack as cluster_stack

    provision("us-east-1")
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    # another run holds the name (its stack exists, as it would while its create runs)
    cfn.create_stack(StackName=cluster_stack.stack_name("minimal"), TemplateBody=json.dumps(
        {"Resources": {"M": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}),
        Tags=[{"Key": "pctl:run", "Value": "r-other"}])
    with pytest.raises(PctlError) as exc:
        _create("minimal")
    assert "another create of 'minimal'" in exc.value.message and "r-other" in exc.value.message
    assert cluster_stack.stack_name("minimal") in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_rocky_without_custom_ami_is_refused_at_validate_with_a_way_forward(tmp_path):
    from pctl.registry.templates import TemplateInvalid, load_valid

    t = tmp_path / "rocky.yaml"
    t.write_text("cluster: {name: r9, os: rocky9}\ncompute:\n  head_node: t3.large\n  queues:\n"
                 "    - {name: cpu, instance_types: [c5.large]}\n")
    with pytest.raises(TemplateInvalid) as exc:
        load_valid(str(t), use_catalog=False)
    assert "no official rocky9 AMI" in exc.value.message
    assert "rhel9" in exc.value.result.errors[0].hint and "--custom-ami" in exc.value.result.errors[0].hint
    tref, result = load_valid(str(t), use_catalog=False, overrides={"cluster": {"custom_ami": "ami-0123456789abcdef0"}})
    assert result.ok


def test_the_issue_command_line_through_the_cli(aws_env, ssh_dir):
    """`pctl create -t bioinformatics --key-name K --ssh-cidr ... --custom-ami AMI --yes`, as a user types it."""
    from support.cli import run_pctl

    ami = provision("us-east-1", key="K")
    args = ["create", "-t", "bioinformatics", "--key-name", "K", "--ssh-cidr", "198.51.100.7/32", "--custom-ami", ami,
            "--yes"]
    for v in EMULATOR_SUPPRESSED:
        args += ["--suppress-validators", v]
    r = run_pctl(*args, env=dict(aws_env, PCTL_SSH_DIR=str(ssh_dir)), timeout=600)
    assert r.returncode == 1, r.stderr
    assert "ParallelCluster could not create the cluster" in r.stderr and MOTO_REFUSAL in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert "rolled back the pctl network" in r.stderr
    assert leftovers("us-east-1") == NOTHING


def test_dry_run_lookup_shows_what_create_would_use(aws_env, ssh_dir):
    from pctl.aws import Aws
    from pctl.cluster.plan import dry_run
    from pctl.network import stack as network_stack

    ami = provision("us-east-1")
    net = network_stack.ensure(Aws(region="us-east-1"), poll=0.01)
    opts = CreateOptions(template="bioinformatics", key_name="lab-key", custom_ami=ami, ssh_cidr="198.51.100.7/32",
                         region="us-east-1")
    dry = dry_run(opts, use_catalog=False, lookup=True)
    plan = dry["plan"]
    assert plan["head_node"]["subnet"] == net.public_subnets[0][0]
    assert {s for q in plan["queues"] for s in q["subnets"]} == {i for i, _ in net.private_subnets}
    assert plan["bucket"]["name"] == "pctl-123456789012-us-east-1" and "ACCOUNT" not in json.dumps(dry["config"])
    assert plan["ami"] == {"image_id": ami, "source": "custom", "root_gb": plan["ami"]["root_gb"]}
    assert leftovers("us-east-1")["stacks"] == ["pctl-network-us-east-1"]  # looked, made nothing
