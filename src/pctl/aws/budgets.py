"""AWS Budgets (a global service: one set of budgets per account)."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def _client(aws):
    return aws.client("budgets", region="us-east-1")


def describe_budget(aws, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            return _client(aws).describe_budget(AccountId=aws.account_id, BudgetName=name)["Budget"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NotFoundException", "NotFound"):
                return None
            raise


def create_budget(aws, budget: dict, notifications: list[dict], tags: dict[str, str]) -> None:
    kwargs = {"AccountId": aws.account_id, "Budget": budget, "NotificationsWithSubscribers": notifications}
    if tags:
        kwargs["ResourceTags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    with aws_errors():
        _client(aws).create_budget(**kwargs)


def update_budget(aws, budget: dict) -> None:
    with aws_errors():
        _client(aws).update_budget(AccountId=aws.account_id, NewBudget=budget)


def notifications(aws, name: str) -> list[dict]:
    with aws_errors():
        return _client(aws).describe_notifications_for_budget(AccountId=aws.account_id, BudgetName=name).get(
            "Notifications", [])


def subscribers(aws, name: str, notification: dict) -> list[dict]:
    with aws_errors():
        return _client(aws).describe_subscribers_for_notification(
            AccountId=aws.account_id, BudgetName=name, Notification=notification).get("Subscribers", [])


def create_notification(aws, name: str, notification: dict, subs: list[dict]) -> None:
    with aws_errors():
        _client(aws).create_notification(AccountId=aws.account_id, BudgetName=name, Notification=notification,
                                         Subscribers=subs)


def delete_notification(aws, name: str, notification: dict) -> None:
    with aws_errors():
        _client(aws).delete_notification(AccountId=aws.account_id, BudgetName=name, Notification=notification)


def delete_budget(aws, name: str) -> bool:
    """True when it was deleted, False when there was none."""
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            _client(aws).delete_budget(AccountId=aws.account_id, BudgetName=name)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NotFoundException", "NotFound"):
                return False
            raise


def list_budgets(aws) -> list[dict]:
    out: list[dict] = []
    with aws_errors():
        token = None
        while True:
            kwargs = {"AccountId": aws.account_id, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            resp = _client(aws).describe_budgets(**kwargs)
            out += resp.get("Budgets", [])
            token = resp.get("NextToken")
            if not token:
                return out
