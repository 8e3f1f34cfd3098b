"""The AWS calls the AMI code makes, in pctl.aws.{ec2,s3,iam}: what they return and how their failures read,
against the emulator (and, for answers it never gives, the fault proxy in front of it)."""

from __future__ import annotations

import json

import pytest

from pctl.aws import ec2, iam, s3
from pctl.aws.errors import AwsError

MISSING_AMI = "ami-0123456789abcdef0"


# ------------------------------------------------------------------------------------------ EC2: images, snapshots

def test_images_by_owner_and_one_image(aws):
    client = aws.client("ec2")
    iid = client.register_image(Name="aws-parallelcluster-3.0.0-amzn2023-hvm-x86_64-1")["ImageId"]
    client.create_tags(Resources=[iid], Tags=[{"Key": "pctl:name", "Value": "genomics"}])
    found = ec2.images(aws, owners=["self"], filters=[{"Name": "name", "Values": ["aws-parallelcluster-3.0.0-*"]}])
    assert [i["ImageId"] for i in found] == [iid]
    assert ec2.own_images(aws, [{"Name": "tag:pctl:name", "Values": ["genomics"]}])[0]["ImageId"] == iid
    assert ec2.tags_of(ec2.image(aws, iid)) == {"pctl:name": "genomics"}
    # a missing image: None, or (missing_ok=False) the message that says what to do
    assert ec2.image(aws, MISSING_AMI) is None
    with pytest.raises(AwsError) as err:
        ec2.image(aws, MISSING_AMI, missing_ok=False)
    assert err.value.code == "InvalidAMIID.NotFound"
    assert err.value.message == f"AMI {MISSING_AMI} does not exist in this region (or your account cannot use it)"
    assert "pctl ami list" in err.value.hint
    ec2.deregister_image(aws, iid)
    assert ec2.image(aws, iid) is None
    with pytest.raises(AwsError) as err:
        ec2.deregister_image(aws, iid)
    assert err.value.code.startswith("InvalidAMIID") and iid in err.value.message


def test_snapshots_listed_and_deleted(aws):
    client = aws.client("ec2")
    vol = client.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    tagged = client.create_snapshot(VolumeId=vol, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [{"Key": "pctl:build-id", "Value": "b-1"}]}])["SnapshotId"]
    client.create_snapshot(VolumeId=vol)  # not a build's: never listed
    assert [s["SnapshotId"] for s in ec2.own_snapshots(aws, [{"Name": "tag-key", "Values": ["pctl:build-id"]}])] \
        == [tagged]
    assert ec2.delete_snapshot(aws, tagged) is True
    assert ec2.own_snapshots(aws, [{"Name": "tag-key", "Values": ["pctl:build-id"]}]) == []
    # already gone: fine when the caller says so, else an error that names it
    assert ec2.delete_snapshot(aws, tagged, missing_ok=True) is False
    with pytest.raises(AwsError) as err:
        ec2.delete_snapshot(aws, tagged)
    assert err.value.code == "InvalidSnapshot.NotFound"
    assert err.value.message.startswith("AWS error during DeleteSnapshot: InvalidSnapshot.NotFound")


# ------------------------------------------------------------------------------------------ EC2: security groups

def test_security_group_made_tagged_found_and_closed(aws):
    client = aws.client("ec2")
    vpc = client.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(aws, name="pctl-ami-builder", vpc_id=vpc, description="no inbound",
                                    tags={"pctl:role": "ami-builder", "pctl:managed": "true"})
    (sg,) = ec2.security_groups(aws, [{"Name": "vpc-id", "Values": [vpc]},
                                      {"Name": "tag:pctl:role", "Values": ["ami-builder"]}])
    assert sg["GroupId"] == gid and ec2.tags_of(sg) == {"pctl:role": "ami-builder", "pctl:managed": "true"}
    assert sg["IpPermissions"] == []
    client.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    (sg,) = ec2.security_groups(aws, [{"Name": "group-id", "Values": [gid]}])
    ec2.revoke_ingress(aws, gid, sg["IpPermissions"])
    assert ec2.security_groups(aws, [{"Name": "group-id", "Values": [gid]}])[0]["IpPermissions"] == []
    with pytest.raises(AwsError) as err:
        ec2.create_security_group(aws, name="pctl-ami-builder", vpc_id=vpc, description="again", tags={})
    assert err.value.code == "InvalidGroup.Duplicate"
    assert err.value.message.startswith("AWS error during CreateSecurityGroup: InvalidGroup.Duplicate")


# ------------------------------------------------------------------------------------------ EC2: instances

def test_run_instance_and_find_it(aws):
    client = aws.client("ec2")
    image = client.register_image(Name="base")["ImageId"]
    tags = [{"Key": "pctl:role", "Value": "ami-builder"}, {"Key": "pctl:build-id", "Value": "b-2"}]
    iid = ec2.run_instance(aws, client_token="b-2-1", ImageId=image, InstanceType="c6i.large",
                           TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    other = ec2.run_instance(aws, client_token="b-3-1", ImageId=image, InstanceType="c6i.large")
    found = ec2.instances(aws, [{"Name": "tag:pctl:role", "Values": ["ami-builder"]}])
    assert [i["InstanceId"] for i in found] == [iid]
    assert {i["InstanceId"] for i in ec2.instances(aws, [{"Name": "image-id", "Values": [image]}])} == {iid, other}
    ec2.terminate_instances(aws, [iid])
    states = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    assert [i["InstanceId"] for i in ec2.instances(aws, states)] == [other]
    with pytest.raises(AwsError) as err:
        ec2.run_instance(aws, client_token="b-4-1", ImageId=image, InstanceType="c6i.large",
                         SubnetId="subnet-0123456789abcdef0")
    assert err.value.operation == "RunInstances" and err.value.code == "InvalidSubnetID.NotFound"
    assert err.value.message == ("AWS error during RunInstances: InvalidSubnetID.NotFound: The subnet ID "
                                 "'subnet-0123456789abcdef0' does not exist")


# ------------------------------------------------------------------------------------------ S3: objects

def test_object_bytes_written_encrypted_and_read_from_an_offset(aws):
    bucket = s3.ensure_bucket(aws)
    s3.put_object(aws, bucket, "builds/b-1/build.log", "line one é\n", content_type="text/plain")
    head = aws.client("s3").head_object(Bucket=bucket, Key="builds/b-1/build.log")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentType"] == "text/plain"
    data = "line one é\n".encode("utf-8")
    assert s3.get_object_bytes(aws, bucket, "builds/b-1/build.log") == data
    assert s3.get_object_bytes(aws, bucket, "builds/b-1/build.log", start=5) == data[5:]
    # nothing past the offset yet (a log followed while it grows): empty, not an error
    assert s3.get_object_bytes(aws, bucket, "builds/b-1/build.log", start=len(data)) == b""
    assert s3.get_object_bytes(aws, bucket, "builds/b-1/missing") is None
    assert s3.get_object_bytes(aws, "pctl-no-such-bucket-here", "x") is None


def test_delete_keys_in_batches_of_a_thousand(aws):
    bucket = s3.ensure_bucket(aws)
    for name in ("a", "b", "c"):
        s3.put_object(aws, bucket, f"builds/b-1/{name}", name, content_type="text/plain")
    keys = [f"builds/b-1/{n}" for n in ("a", "b")] + [f"builds/b-1/gone-{i}" for i in range(1000)]
    before = len(aws.calls)
    assert s3.delete_keys(aws, bucket, keys) == {}, "a missing key counts as deleted, as in S3"
    assert aws.calls[before:] == ["s3.DeleteObjects", "s3.DeleteObjects"]
    assert s3.list_prefix(aws, bucket, "builds/") == ["builds/b-1/c"]


@pytest.fixture
def proxy(aws_env, moto_server, moto_tls, monkeypatch):
    from support.fault_proxy import FaultProxy

    p = FaultProxy(moto_server, str(moto_tls[0]), str(moto_tls[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield p
    p.close()


def test_s3_failures_are_errors_not_absence(aws_env, proxy):
    from pctl.aws import Aws

    aws = Aws(region="us-east-1")
    bucket = s3.ensure_bucket(aws)
    s3.put_object(aws, bucket, "builds/b-1/state.json", "{}", content_type="application/json")
    # S3 answers DeleteObjects 200 and reports, per key, what it would not delete
    refused = (b'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               b"<Error><Key>builds/b-1/state.json</Key><Code>AccessDenied</Code><Message>Access Denied</Message>"
               b"</Error></DeleteResult>")
    proxy.fail(lambda r: r.method == "POST" and "delete" in r.path, status=200, body=refused)
    assert s3.delete_keys(aws, bucket, ["builds/b-1/state.json"]) == {
        "builds/b-1/state.json": "AccessDenied: Access Denied"}
    # a build's objects that S3 would not delete: an error that names them, never a silent success
    from pctl.ami.store import BuildStore

    proxy.fail(lambda r: r.method == "POST" and "delete" in r.path, status=200, body=refused)
    with pytest.raises(AwsError) as err:
        BuildStore(aws).delete("b-1", ["state.json"])
    assert err.value.message == (f"S3 would not delete 1 object(s) of build b-1: s3://{bucket}/builds/b-1/state.json "
                                 "(AccessDenied: Access Denied)")
    assert err.value.code == "AccessDenied" and "pctl ami cleanup" in err.value.hint
    assert s3.list_prefix(aws, bucket, "builds/") == ["builds/b-1/state.json"]
    # a read that fails is an error, never "the object is not there"
    proxy.fail(lambda r: r.method == "GET" and "state.json" in r.path, status=503, code="ServiceUnavailable")
    with pytest.raises(AwsError) as err:
        s3.get_object_bytes(aws, bucket, "builds/b-1/state.json")
    assert err.value.code == "ServiceUnavailable"
    assert s3.get_object_bytes(aws, bucket, "builds/b-1/state.json") == b"{}"


# ------------------------------------------------------------------------------------------ IAM

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                  "Resource": "arn:aws:s3:::b/builds/x/*"}]}


def _make(aws, name="pctl-build-x", policy=POLICY):
    return iam.create_instance_role(aws, name=name, path="/pctl/", trust=TRUST, policy_name="pctl-build",
                                    policy=policy, tags={"pctl:build-id": "x", "pctl:managed": "true"},
                                    description="test role")


def test_instance_role_made_listed_and_removed(aws):
    arn = _make(aws)
    client = aws.client("iam")
    assert arn.endswith(":instance-profile/pctl/pctl-build-x")
    role = client.get_role(RoleName="pctl-build-x")["Role"]
    assert role["Path"] == "/pctl/" and role["MaxSessionDuration"] == 3600 and role["Description"] == "test role"
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {"pctl:build-id": "x", "pctl:managed": "true"}
    assert iam.role_policy(aws, "pctl-build-x", "pctl-build") == POLICY
    prof = client.get_instance_profile(InstanceProfileName="pctl-build-x")["InstanceProfile"]
    assert [r["RoleName"] for r in prof["Roles"]] == ["pctl-build-x"]
    assert [r["RoleName"] for r in iam.list_roles(aws, "/pctl/")] == ["pctl-build-x"]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles(aws, "/pctl/")] == ["pctl-build-x"]
    assert iam.delete_instance_role(aws, "pctl-build-x") == []
    assert iam.list_roles(aws, "/pctl/") == [] and iam.list_instance_profiles(aws, "/pctl/") == []
    assert iam.delete_instance_role(aws, "pctl-build-x") == [], "what is already gone is fine"


def test_instance_role_is_all_or_nothing(aws):
    with pytest.raises(AwsError) as err:
        _make(aws, policy={"Version": "2012-10-17", "Statement": [{"Effect": "Sometimes"}]})
    assert err.value.operation == "PutRolePolicy" and "MalformedPolicyDocument" in err.value.message
    assert iam.list_roles(aws, "/pctl/") == [] and iam.list_instance_profiles(aws, "/pctl/") == []


def test_delete_instance_role_says_what_it_could_not_remove(aws):
    _make(aws)
    client = aws.client("iam")
    client.create_instance_profile(InstanceProfileName="someone-elses", Path="/other/")
    client.add_role_to_instance_profile(InstanceProfileName="someone-elses", RoleName="pctl-build-x")
    problems = iam.delete_instance_role(aws, "pctl-build-x")
    assert len(problems) == 1 and problems[0].startswith("delete role: "), problems
    # every other step was still done
    assert client.list_role_policies(RoleName="pctl-build-x")["PolicyNames"] == []
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles(aws, "/")] == ["someone-elses"]
    json.dumps(problems)  # plain text, ready for --json
