"""One boto3 session per command, with standard retries; clients are cached per service."""

from __future__ import annotations

import contextlib
import os
import threading

from pctl import __version__


class Aws:
    """AWS access for one command. Honours --profile/--region, the standard AWS_* variables and
    AWS_ENDPOINT_URL (so tests point everything at a local emulator)."""

    def __init__(self, *, profile: str | None = None, region: str | None = None):
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            from pctl.extras import missing_aws

            raise missing_aws("this command", exc.name or "boto3") from None

        with aws_errors():
            self.session = boto3.session.Session(profile_name=profile, region_name=region)
        self.profile = profile
        # standard retries (throttling, 5xx, connection errors): 8 retries; AWS_MAX_ATTEMPTS (the total number of
        # attempts, as in every AWS SDK and the CLI) overrides it
        retries: dict = {"mode": "standard", "max_attempts": 8}
        try:
            if os.environ.get("AWS_MAX_ATTEMPTS"):
                retries = {"mode": "standard", "total_max_attempts": max(1, int(os.environ["AWS_MAX_ATTEMPTS"]))}
        except ValueError:
            pass
        self._config = Config(retries=retries, user_agent_extra=f"pctl/{__version__}", connect_timeout=10,
                              read_timeout=60)
        self._clients: dict = {}
        # boto3 sessions are not thread-safe: clients are made one at a time (the clients themselves are, so
        # BuildStore.records reads build records from a thread pool through one cached client)
        self._clients_lock = threading.Lock()
        self._account: str | None = None
        self.calls: list[str] = []  # every API call made (service.Operation), for reports and benchmarks
        if not self.session.region_name:
            from pctl.aws.errors import AwsError

            raise AwsError("no AWS region set", hint="pass --region, set cluster.region, or set AWS_REGION")

    @property
    def region(self) -> str:
        return self.session.region_name

    def client(self, service: str, *, region: str | None = None, max_attempts: int | None = None):
        """A client for SERVICE in this session's region (or REGION, for services with fixed endpoints such
        as the Price List API). AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL, as in the AWS CLI.
        max_attempts: fewer retries for calls whose failure has a fallback (prices)."""
        key = (service, region, max_attempts)
        if key in self._clients:
            return self._clients[key]
        with self._clients_lock:
            if key in self._clients:
                return self._clients[key]
            with aws_errors():
                kwargs = {}
                env_name = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")
                endpoint = os.environ.get(env_name) or os.environ.get("AWS_ENDPOINT_URL")
                if endpoint:
                    kwargs["endpoint_url"] = endpoint
                if region:
                    kwargs["region_name"] = region
                config = self._config
                if max_attempts is not None:
                    from botocore.config import Config

                    config = config.merge(Config(retries={"mode": "standard", "max_attempts": max_attempts}))
                c = self.session.client(service, config=config, **kwargs)
            c.meta.events.register("before-call.*.*", self._record)
            self._clients[key] = c
        return self._clients[key]

    def _record(self, model=None, **_kw):
        if model is not None:
            self.calls.append(f"{model.service_model.service_name}.{model.name}")

    @property
    def account_id(self) -> str:
        if self._account is None:
            with aws_errors():
                self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    def pctl_bucket(self) -> str:
        return f"pctl-{self.account_id}-{self.region}"

    def in_region(self, region: str) -> "Aws":
        """The same profile and credentials in another region (self when it is this one)."""
        if region == self.region:
            return self
        other = Aws(profile=self.profile, region=region)
        other._account = self._account
        return other


@contextlib.contextmanager
def aws_errors():
    """Re-raise botocore/boto3 failures as AwsError (a PctlError: message + hint, never a traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from pctl.aws.errors import translate

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc) from exc
