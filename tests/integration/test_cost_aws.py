"""Cost against the moto server: tags on what is made, budgets created and deleted with the cluster (a
project budget kept while the project has clusters), Cost Explorer grouped by tag (moto's configurable
results), the budget gate at create, and `pctl list` / `pctl status` cost columns. Clusters are made by the real
ParallelCluster on the lifecycle server (see test_lifecycle.py), where its create completes."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request

import pytest

from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.create import create_cluster
from pctl.cluster.ops import cluster_status, delete_cluster, list_clusters
from pctl.cluster.plan import CreateOptions
from pctl.cost.idle.decide import iso
from pctl.errors import PctlError
from support.cli import run_pctl

TEMPLATE = """\
cluster:
  name: {name}
  region: us-east-1
  project: genomics
  idle_timeout: 2h
  tags: {{team: hpc}}
compute:
  head_node: t3.large
  queues:
    - {{name: gpu, instance_types: [g5.2xlarge], max_count: 2, capacity: spot}}
    - {{name: cpu, instance_types: [c6i.xlarge], max_count: 4}}
budget:
  monthly_usd: {budget}
  notify: [lab@example.org, "arn:aws:sns:us-east-1:123456789012:lab-alerts"]
  scope: {scope}
"""


@pytest.fixture
def aws(aws_lifecycle_env):
    """The lifecycle server, with a key pair: ParallelCluster's create completes there."""
    import shutil

    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js")
    from pctl.aws import Aws

    a = Aws(region="us-east-1")
    a.client("ec2").create_key_pair(KeyName="lab-key", KeyType="ed25519")
    return a


@pytest.fixture
def ssh_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PCTL_SSH_DIR", str(tmp_path / "ssh"))


def _write(tmp_path, name="lab", budget=500, scope="cluster"):
    p = tmp_path / f"{name}.yaml"
    p.write_text(TEMPLATE.format(name=name, budget=budget, scope=scope))
    return str(p)


def _create(path, **kw):
    return create_cluster(CreateOptions(template=path, key_name="lab-key", ssh_cidr="203.0.113.0/24",
                                        suppress_validators=EMULATOR_SUPPRESSED),
                          use_catalog=False, yes=kw.pop("yes", True), poll=0.05, **kw)


def _budgets(aws):
    return {b["BudgetName"]: b for b in aws.client("budgets", region="us-east-1").describe_budgets(
        AccountId="123456789012").get("Budgets", [])}


def test_tags_budget_and_idle_timer_made_with_the_cluster_and_removed_with_it(aws, ssh_dir, tmp_path):
    rec = _create(_write(tmp_path))
    config = rec["config"]
    tags = {t["Key"]: t["Value"] for t in config["Tags"]}
    # ParallelCluster copies these to its stack and the stack to every resource (checked for the real
    # ParallelCluster in test_idle_policy_pcluster.py)
    assert {"pctl:cluster": "lab", "pctl:project": "genomics", "team": "hpc"}.items() <= tags.items()
    assert tags["pctl:template"].endswith("lab")
    # the budget: filtered on the cluster's tag and region, alerts at 80 % and 100 % to both subscribers
    b = _budgets(aws)["pctl-cluster-us-east-1-lab"]
    assert b["BudgetLimit"] == {"Amount": "500.00", "Unit": "USD"} and b["TimeUnit"] == "MONTHLY"
    assert b["CostFilters"] == {"TagKeyValue": ["user:pctl:cluster$lab"], "Region": ["us-east-1"]}
    client = aws.client("budgets", region="us-east-1")
    notes = client.describe_notifications_for_budget(AccountId="123456789012", BudgetName=b["BudgetName"])["Notifications"]
    assert sorted(n["Threshold"] for n in notes) == [80.0, 100.0]
    assert rec["cost"]["budget"]["name"] == "pctl-cluster-us-east-1-lab" and rec["cost"]["idle_timer"]["action"] == "auto_stop"
    # what pctl made itself carries the cost tags, per resource type
    fn_arn = aws.client("lambda").get_function(FunctionName="pctl-idle-lab")["Configuration"]["FunctionArn"]
    want = {"pctl:cluster": "lab", "pctl:project": "genomics", "team": "hpc"}
    made = {
        "lambda function": aws.client("lambda").list_tags(Resource=fn_arn)["Tags"],
        "iam role": {t["Key"]: t["Value"] for t in aws.client("iam").list_role_tags(
            RoleName="pctl-idle-us-east-1-lab")["Tags"]},
        "eventbridge rule": {t["Key"]: t["Value"] for t in aws.client("events").list_tags_for_resource(
            ResourceARN=aws.client("events").describe_rule(Name="pctl-idle-lab")["Arn"])["Tags"]},
        "log group": aws.client("logs").list_tags_log_group(logGroupName="/aws/lambda/pctl-idle-lab")["tags"],
    }
    for kind, got in made.items():
        assert want.items() <= got.items(), kind
    record = json.loads(aws.client("s3").get_object(Bucket=rec["bucket"], Key="clusters/lab/cost.json")["Body"].read())
    assert record["project"] == "genomics" and record["idle_hourly"] > 0 and "g5.2xlarge" in record["instance_prices"]
    # delete: the budget and the timer go with the cluster
    report = delete_cluster(aws, "lab", yes=True, poll=0.05)
    assert "pctl-cluster-us-east-1-lab" in report["cost"]["budgets_deleted"]
    assert len(report["cost"]["idle_timer_removed"]) == 4
    assert "pctl-cluster-us-east-1-lab" not in _budgets(aws)
    assert aws.client("lambda").list_functions()["Functions"] == []


def test_project_budget_stays_while_a_cluster_of_the_project_exists(aws, ssh_dir, tmp_path):
    _create(_write(tmp_path, "lab", scope="project"))
    _create(_write(tmp_path, "lab2", scope="project"))
    assert set(_budgets(aws)) == {"pctl-project-genomics"}
    b = _budgets(aws)["pctl-project-genomics"]
    assert b["CostFilters"] == {"TagKeyValue": ["user:pctl:project$genomics"]}
    delete_cluster(aws, "lab", yes=True, poll=0.05)
    assert "pctl-project-genomics" in _budgets(aws), "lab2 still belongs to the project"
    report = delete_cluster(aws, "lab2", yes=True, poll=0.05)
    assert report["cost"]["budgets_deleted"] == ["pctl-project-genomics"] and not _budgets(aws)


def test_create_refuses_an_idle_month_above_the_budget_unless_yes(aws, ssh_dir, tmp_path):
    path = _write(tmp_path, budget=20)
    with pytest.raises(PctlError) as exc:
        _create(path, yes=False)
    assert "above budget.monthly_usd $20.00" in exc.value.message and "--yes" in exc.value.hint
    assert not aws.client("cloudformation").describe_stacks()["Stacks"] and not aws.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:pctl:network", "Values": ["us-east-1"]}])["Vpcs"], "nothing made before the check"
    rec = _create(path, yes=True)
    assert rec["status"] == "CREATE_COMPLETE"


def test_validate_warns_when_the_idle_month_is_above_budget(tmp_path):
    r = run_pctl("validate", _write(tmp_path, budget=20), "--json")
    assert r.returncode == 0
    warnings = json.loads(r.stdout)["results"][0]["warnings"]
    assert any(w["code"] == "budget" and "above budget.monthly_usd" in w["message"] for w in warnings)


# ------------------------------------------------------------------------------------ Cost Explorer

def _ce_results(moto_server, moto_tls, results):
    ctx = ssl.create_default_context(cafile=str(moto_tls[0]))
    req = urllib.request.Request(f"{moto_server}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                 data=json.dumps({"results": results}).encode(),
                                 headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req, timeout=30, context=ctx).status == 201


def _day(start, groups):
    end = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(start, "%Y-%m-%d")) + 86400 + 7200))
    return {"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": False, "Groups": [
        {"Keys": [f"pctl:cluster${k}"], "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
        for k, v in groups.items()]}


def test_cost_report_grouped_by_cluster(aws_env, moto_server, moto_tls):
    _ce_results(moto_server, moto_tls, [{"ResultsByTime": [
        _day("2026-11-01", {"lab": 12.5, "ml-training": 80.25, "": 3.0}),
        _day("2026-11-02", {"lab": 7.5, "ml-training": 19.75}),
    ]}])
    r = run_pctl("cost", "--since", "2026-11-01", "--until", "2026-11-02", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(g["name"], g["total"]) for g in out["groups"]] == [("ml-training", 100.0), ("lab", 20.0)]
    assert out["total"] == 120.0 and out["untagged"] == 3.0 and out["granularity"] == "DAILY"
    assert [d["amount"] for d in out["groups"][1]["days"]] == [12.5, 7.5]
    # text: a table, the total; moto cannot tell tag activation, and spend was found: no activation note
    r = run_pctl("cost", "--since", "2026-11-01", "--until", "2026-11-02", env=aws_env)
    assert "ml-training" in r.stdout and "$100.00" in r.stdout and "$120.00" in r.stdout


def test_cost_report_without_tagged_spend_says_how_to_activate_the_tags(aws_env):
    r = run_pctl("cost", "lab", "--since", "7d", env=aws_env)
    assert r.returncode == 0, r.stderr
    assert "no spend found" in r.stdout and "pctl cost activate-tags" in r.stderr and "Cost allocation tags" in r.stderr
    r = run_pctl("cost", "lab", "--project", "genomics", env=aws_env)
    assert r.returncode == 2 and "not both" in r.stderr
    r = run_pctl("cost", "--since", "yesterday-ish", env=aws_env)
    assert r.returncode == 2 and "--since" in r.stderr


def test_cost_report_filters_by_cluster_or_project():
    from pctl.cost.explorer import query

    group, flt = query(name="lab", project=None, group_by="cluster")
    assert flt == {"Tags": {"Key": "pctl:cluster", "Values": ["lab"], "MatchOptions": ["EQUALS"]}}
    group, flt = query(name=None, project="genomics", group_by="cluster")
    assert group == [{"Type": "TAG", "Key": "pctl:cluster"}] and flt["Tags"]["Key"] == "pctl:project"
    group, flt = query(name=None, project=None, group_by="project")
    assert group == [{"Type": "TAG", "Key": "pctl:project"}] and flt == {
        "Not": {"Tags": {"Key": "pctl:project", "MatchOptions": ["ABSENT"]}}}


# ------------------------------------------------------------------------------------ list and status

def test_list_and_status_show_nodes_usage_countdown_and_spend(aws, ssh_dir, tmp_path):
    rec = _create(_write(tmp_path))
    bucket = rec["bucket"]
    now = time.time()
    hour = time.strftime("%Y-%m-%dT%H", time.gmtime(now))
    earlier = time.strftime("%Y-%m-%dT%H", time.gmtime(now - 3 * 3600))
    ancient = time.strftime("%Y-%m-%dT%H", time.gmtime(now - 30 * 3600))
    hb = {"updated": iso(now - 30), "jobs": {"running": 0, "pending": 0}, "sessions": 0, "last_active": iso(now - 1800),
          "started": iso(now - 5 * 3600),
          "usage": {"hours": {
              hour: {"gpu": {"node_s": 3600, "gpu_s": 3600, "gpu_alloc_s": 900}},
              earlier: {"gpu": {"node_s": 7200, "gpu_s": 7200, "gpu_alloc_s": 7200}, "cpu": {"node_s": 14400, "gpu_s": 0,
                                                                                            "gpu_alloc_s": 0}},
              ancient: {"cpu": {"node_s": 36000, "gpu_s": 0, "gpu_alloc_s": 0}}},  # older than a day: not counted
              "totals": {"g5.2xlarge:spot": 10800, "c6i.xlarge:ondemand": 50400}}}
    aws.client("s3").put_object(Bucket=bucket, Key="clusters/lab/status/heartbeat.json", Body=json.dumps(hb).encode())
    key = "clusters/lab/status/control.json"
    control = json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    control["armed_at"] = iso(now - 5 * 3600)  # armed when the cluster was made, 5 h ago
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(control).encode())
    s = cluster_status(aws, "lab")
    u = s["usage_last_day"]
    assert u["gpu"] == {"node_hours": 3.0, "gpu_hours": 3.0, "gpu_alloc_hours": 2.25, "gpu_idle_hours": 0.75}
    assert u["cpu"]["node_hours"] == 4.0
    t = s["idle_timer"]
    assert t["action"] == "auto_stop" and not t["decision"]["busy"]
    assert 5400 - 300 < t["decision"]["remaining_s"] <= 5400  # 2 h after the last activity 30 min ago
    so = s["cost"]["so_far"]
    prices = json.loads(aws.client("s3").get_object(Bucket=bucket, Key="clusters/lab/cost.json")["Body"].read())
    nodes = 3 * prices["instance_prices"]["g5.2xlarge"]["spot"] + 14 * prices["instance_prices"]["c6i.xlarge"]["ondemand"]
    assert so["compute_usd"] == pytest.approx(round(nodes, 2))
    rows = list_clusters(aws)
    assert rows[0]["running_nodes"] == 0 and rows[0]["spend_so_far"] >= so["compute_usd"]
    # the CLI prints them
    from click.testing import CliRunner

    from pctl.cli.main import cli

    res = CliRunner().invoke(cli, ["status", "lab"])
    assert res.exit_code == 0, res.output
    assert "gpu: 3.0 node-hours, GPU-hours 3.0 (2.2 used by jobs, 0.8 idle)" in res.output or \
        "gpu: 3.0 node-hours, GPU-hours 3.0 (2.3 used by jobs, 0.8 idle)" in res.output
    assert "idle timer auto stop in 1h" in res.output and "pctl keep lab --for 4h" in res.output
    res = CliRunner().invoke(cli, ["list"])
    assert "SPEND SO FAR" in res.output and "~$" in res.output
