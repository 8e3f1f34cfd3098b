"""Cost: know it before (estimate), see it during (tags, Cost Explorer, usage), cap it (budgets) and stop
paying for idle clusters (the idle timer).

    prices     the price table: a snapshot shipped with pctl (its date shown), refreshed from the AWS
               Price List API into the cache
    estimate   pure: a rendered ParallelCluster config -> idle/hour, full scale/hour, idle month
    tags       the tag set every resource of a cluster carries (pctl:cluster, pctl:template, pctl:project)
    checks     budget.monthly_usd against the idle month (validate warns, create refuses without --yes)
    budgets    the AWS Budget of a cluster or project (80 % and 100 % alerts)
    explorer   spend from Cost Explorer grouped by cluster or project
    usage      node-hours and GPU-hours per queue from the head node's heartbeat
    idle/      the idle timer: head-node agent, the decision, the scheduled function and its IAM

Only the estimate and the prices are used by a dry run; nothing here imports boto3 at import time.
"""
