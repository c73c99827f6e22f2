"""The ELBv2 API for the aws_alb driver: one blocking boto3 client, called from a worker thread.

Every failure leaves as a RouterError that names the operation, the resource (ARN or name) and
what to check. boto3 is imported lazily: it is the optional `aws` extra.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from turnout.errors import RouterError

WRITES = {"ModifyListener", "ModifyRule", "RegisterTargets", "DeregisterTargets", "ModifyTargetGroupAttributes"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
                "ExpiredTokenException", "InvalidAccessKeyId", "AuthFailure"}
_NOT_FOUND = {
    "ListenerNotFound": "check router.options.production_listener_* / test_listener_* and router.options.region",
    "TargetGroupNotFound": "check router.options.target_groups and router.options.region",
    "LoadBalancerNotFound": "check router.options.load_balancer_arn / load_balancer_name and router.options.region",
}


def translate(exc: Exception, *, op: str, subject: str, endpoint: str) -> RouterError:
    """A botocore exception as a RouterError: what failed, on which resource, and what to check."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f"{op} on {subject}"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code", "Unknown")), str(err.get("Message", ""))
        text = f"AWS ALB: {where} failed: {code}: {message}".rstrip(": ")
        if code in _DENIED:
            return RouterError(text, hint=f"grant elasticloadbalancing:{op} to the credentials turnout runs with "
                                          "(docs/routers.md, aws_alb, lists the policy)")
        if code in _CREDENTIALS:
            return RouterError(text, hint="check the AWS credentials turnout runs with (AWS_PROFILE, "
                                          "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, instance role)")
        return RouterError(text, hint=_NOT_FOUND.get(code, ""))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return RouterError(f"AWS ALB: {where}: no usable AWS credentials ({exc})",
                           hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role")
    if isinstance(exc, ParamValidationError):
        return RouterError(f"AWS ALB: {where}: invalid request: {exc}", hint="check router.options")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError) and op in WRITES:
        # The request left: AWS may still apply it. observe() reads back what really happened.
        return RouterError(f"AWS ALB: {where}: no answer from {endpoint} ({exc}); the change may or may not "
                           "have been applied", hint="observe() / `turnout status` shows what the ALB serves")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):  # a read: nothing was changed
        return RouterError(f"AWS ALB: {where}: no answer from {endpoint} ({exc})",
                           hint="check router.options.endpoint_url, router.options.timeout and the network")
    if isinstance(exc, EndpointConnectionError):
        return RouterError(f"AWS ALB: cannot reach the ELBv2 API at {endpoint} ({where}): {exc}",
                           hint="check router.options.endpoint_url, router.options.region and the network")
    return RouterError(f"AWS ALB: {where} failed talking to {endpoint}: {exc}",
                       hint="check router.options.endpoint_url, router.options.region and the network")


class ELB:
    """A lazily created boto3 `elbv2` client. boto3 clients are thread-safe; their creation is not."""

    def __init__(self, *, region: str, endpoint_url: str | None, timeout: float, attempts: int) -> None:
        self.region, self.endpoint_url, self.timeout, self.attempts = region, endpoint_url, timeout, attempts
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self.endpoint_url or f"https://elasticloadbalancing.{self.region}.amazonaws.com"

    def _get(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config as BotoConfig

                # total_max_attempts counts the first try too (botocore's max_attempts counts retries):
                # router.options.max_attempts = 1 means no retry at all.
                cfg = BotoConfig(connect_timeout=self.timeout, read_timeout=self.timeout,
                                 retries={"mode": "standard", "total_max_attempts": self.attempts})
                session = boto3.session.Session(region_name=self.region)
                self._client = session.client("elbv2", endpoint_url=self.endpoint_url, config=cfg)
            return self._client

    def _call(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        client = self._get()
        method = getattr(client, "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_"))
        result: dict[str, Any] = method(**params)
        return result

    async def call(self, op: str, subject: str, **params: Any) -> dict[str, Any]:
        """Run one API operation (`DescribeListeners`, ...) in a worker thread: boto3 blocks."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(self._call, op, params)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, op=op, subject=subject, endpoint=self.endpoint) from None
