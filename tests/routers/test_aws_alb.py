"""aws_alb driver against a real `moto_server` process (PyPI `moto[server]`), never an in-process mock.

moto emulates the ELBv2 *API*: listeners, forward weights, target groups, registrations, IAM policy
checks. It serves no HTTP traffic through a listener, so what the contract checks with requests is
checked here on what the API reads back, with a boto3 client of the test's own (not the driver's
parsing): the ALB runs the router API and backends contracts, not the traffic one. The fidelity probes
at the end pin down what moto does differently from AWS (docs/routers.md, aws_alb).
"""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from turnout import plugins as registry
from turnout.config import AppConfig, Config, RouterConfig
from turnout.config import parse as parse_config
from turnout.control.local import Stack
from turnout.engine.reconciler import Reconciler
from turnout.errors import ConfigError, RouterError
from turnout.infra.procs import free_port
from turnout.model import Color, Endpoint, InstanceStatus, Weights
from turnout.routers.aws_alb import plan, rules
from turnout.routers.aws_alb.driver import ALBRouter
from turnout.routers.aws_alb.elb import ELB, translate
from turnout.store import SqliteStore
from turnout.testing import router_from_config
from turnout.testing.contracts import RouterBackendsContract
from turnout.testing.fakes import FakeRuntime

REGION = "us-east-1"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "routers.md"
# The IAM actions docs/routers.md says the driver needs; test_documented_policy_is_enough runs with exactly these.
POLICY = ["DescribeLoadBalancers", "DescribeListeners", "DescribeRules", "ModifyListener", "ModifyRule",
          "DescribeTargetGroups", "DescribeTargetGroupAttributes", "DescribeTargetHealth", "RegisterTargets",
          "DeregisterTargets", "ModifyTargetGroupAttributes"]


class MotoServer:
    """One `moto_server` child process on a free loopback port; restarted if a test killed it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        binary = shutil.which("moto_server")
        if binary is None:  # fail, never skip: the dev extra installs it
            pytest.fail("moto_server not found: pip install 'moto[server]' (part of turnout's dev extra)")
        self.port = free_port()
        self.proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(self.port)], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"moto_server exited with {self.proc.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("moto_server did not listen within 20 s")

    def reset(self) -> None:
        assert httpx.post(f"{self.url}/moto-api/reset").status_code == 200
        self.enforce_iam(False)

    def enforce_iam(self, on: bool) -> None:
        """moto checks IAM policies only after this many requests: 0 = from now on, inf = never."""
        assert httpx.post(f"{self.url}/moto-api/reset-auth", content=b"0" if on else b"inf").status_code == 200

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(5)


@dataclass
class World:
    """The seed's AWS setup in moto: VPC, 2 subnets, SG, internal ALB `app`, target groups tg-blue and
    tg-green (ip), production listener :80 -> blue, test listener :8080 -> green."""

    url: str
    elb: Any
    ec2: Any
    vpc: str = ""
    subnets: list[str] = field(default_factory=list)
    lb: str = ""
    prod: str = ""
    test: str = ""
    groups: dict[Color, str] = field(default_factory=dict)

    def build(self) -> World:
        self.vpc = self.ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.10.{i}.0/24",
                                               AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
                        for i, az in ((1, "a"), (2, "b"))]
        self.lb = self.make_lb("app")
        self.groups = {c: self.make_group(f"tg-{c}") for c in Color}
        self.prod = self.make_listener(self.lb, 80, self.groups[Color.BLUE])
        self.test = self.make_listener(self.lb, 8080, self.groups[Color.GREEN])
        return self

    def make_lb(self, name: str, subnets: list[str] | None = None) -> str:
        sg = self.ec2.create_security_group(GroupName=f"{name}-sg", Description=name,
                                            VpcId=self.vpc)["GroupId"]
        return str(self.elb.create_load_balancer(Name=name, Subnets=subnets or self.subnets, SecurityGroups=[sg],
                                                 Scheme="internal", Type="application")
                   ["LoadBalancers"][0]["LoadBalancerArn"])

    def make_group(self, name: str, target_type: str = "ip", vpc: str = "") -> str:
        return str(self.elb.create_target_group(Name=name, Protocol="HTTP", Port=8000, VpcId=vpc or self.vpc,
                                                TargetType=target_type, HealthCheckPath="/health/ready")
                   ["TargetGroups"][0]["TargetGroupArn"])

    def make_listener(self, lb: str, port: int, group: str) -> str:
        return str(self.elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"])

    def options(self, **changes: Any) -> dict[str, Any]:
        opts = {"region": REGION, "endpoint_url": self.url, "load_balancer_name": "app",
                "production_listener_port": 80, "test_listener_port": 8080,
                "target_groups": {"blue": "tg-blue", "green": "tg-green"}, "timeout": "5s",
                "max_attempts": 2,  # fewer attempts than the default 3: a killed moto_server fails sooner
                "health_timeout": "2s"}  # a color without healthy targets is refused within 2 s, not 5 min
        return {k: v for k, v in {**opts, **changes}.items() if v is not None}

    # What the API says, read with the test's own client and rules (not the driver's):
    def actions(self, listener: str) -> list[dict[str, Any]]:
        return list(self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"])

    def forward(self, listener: str) -> dict[Color, int]:
        action = next(a for a in self.actions(listener) if a["Type"] == "forward")
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        color = {arn: c for c, arn in self.groups.items()}
        return {color[g["TargetGroupArn"]]: g["Weight"] for g in groups if g["Weight"]}

    def rule(self, priority: int, path: str, color: Color, listener: str = "") -> str:
        """A path rule on the production listener (or `listener`) forwarding to a color's group."""
        return str(self.elb.create_rule(
            ListenerArn=listener or self.prod, Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [path]}],
            Actions=[{"Type": "forward", "TargetGroupArn": self.groups[color]}])["Rules"][0]["RuleArn"])

    def rule_forward(self, rule: str) -> dict[Color, int]:
        action = next(a for a in self.elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
                      if a["Type"] == "forward")
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        color = {arn: c for c, arn in self.groups.items()}
        return {color[g["TargetGroupArn"]]: g["Weight"] for g in groups if g["Weight"]}

    def targets(self, color: Color) -> set[Endpoint]:
        found = self.elb.describe_target_health(TargetGroupArn=self.groups[color])["TargetHealthDescriptions"]
        return {Endpoint(d["Target"]["Id"], d["Target"]["Port"]) for d in found}


class VpcHosts:
    """Stand-in instances at distinct VPC addresses. ColorBackends' servers all share 127.0.0.1, and
    moto keys a group's targets by IP alone (test_moto_fidelity_gaps): they would collapse into one."""

    def __init__(self, per_color: int = 2) -> None:
        self.endpoints: dict[Color, list[Endpoint]] = {Color.BLUE: [], Color.GREEN: []}
        self.count = 0
        for color in Color:
            for _ in range(per_color):
                self.add(color)

    def add(self, color: Color) -> Endpoint:
        self.count += 1
        endpoint = Endpoint(f"10.10.{1 if color is Color.BLUE else 2}.{10 + self.count}", 8000)
        self.endpoints[color].append(endpoint)
        return endpoint


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy keys, and no way to reach real AWS credentials (files, profiles, instance metadata)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def world(moto: MotoServer, aws_env: None) -> World:
    moto.ensure()
    moto.reset()
    kw = {"endpoint_url": moto.url, "region_name": REGION, "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    return World(moto.url, boto3.client("elbv2", **kw), boto3.client("ec2", **kw)).build()


def make_router(options: dict[str, Any]) -> ALBRouter:
    return router_from_config(ALBRouter, Config(app=AppConfig(name="shop"), router=RouterConfig(kind="aws_alb",
                                                                                        options=options)))


class TestALBContract(RouterBackendsContract):
    router_class = ALBRouter
    restartable = False  # the ALB is not turnout's to restart (and a killed moto_server forgets everything)

    @pytest.fixture
    def router_options(self, world: World, moto: MotoServer) -> dict[str, Any]:
        self.moto = moto
        return world.options()

    @pytest.fixture
    def backends(self) -> Iterator[VpcHosts]:
        yield VpcHosts()

    async def crash(self, router: Any) -> None:
        self.moto.kill()

    async def test_switch_and_rollback(self, router: ALBRouter, world: World) -> None:
        """The contract's switch and rollback, read back from the API. The contract also checks that an
        open keep-alive connection gets the new color on its very next request: moto passes no traffic."""
        state = await router.observe()
        assert (state.weights, state.test_color) == (Weights(100, 0), Color.GREEN)
        await router.route(Weights.all_to(Color.GREEN))
        assert world.forward(world.prod) == {Color.GREEN: 1}  # a full switch forwards to the one group
        assert world.forward(world.test) == {Color.BLUE: 1}
        assert ((await router.observe()).weights, (await router.observe()).test_color) == (Weights(0, 100), Color.BLUE)
        await router.route(Weights.all_to(Color.BLUE))
        assert world.forward(world.prod) == {Color.BLUE: 1}
        assert world.forward(world.test) == {Color.GREEN: 1}
        assert (await router.observe()).weights == Weights(100, 0)

    async def test_weights(self, router: ALBRouter, world: World) -> None:
        """Weights land in one ForwardConfig of both groups. The share of requests each color then gets
        is not measured: moto passes no traffic."""
        await router.route(Weights(70, 30))
        assert world.forward(world.prod) == {Color.BLUE: 70, Color.GREEN: 30}
        assert world.forward(world.test) == {Color.GREEN: 1}
        assert (await router.observe()).weights == Weights(70, 30)
        await router.route(Weights(0, 100))
        assert world.forward(world.prod) == {Color.GREEN: 1}
        assert world.forward(world.test) == {Color.BLUE: 1}

    async def test_test_endpoint_always_idle(self, router: ALBRouter, world: World) -> None:
        for weights in [Weights(100, 0), Weights(0, 100), Weights(100, 0), Weights(30, 70), Weights(70, 30),
                        Weights(50, 50)]:
            await router.route(weights)
            idle = weights.dominant.other
            assert (await router.observe()).test_color is idle, weights
            assert world.forward(world.test) == {idle: 1}, weights

    async def test_observe_matches(self, router: ALBRouter, world: World, backends: VpcHosts,
                                   config: Config) -> None:
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        assert (state.weights, state.test_color) == (Weights(0, 100), Color.BLUE)
        assert state.production_url == f"http://{config.router.production}"
        assert state.test_url == f"http://{config.router.test}"
        for color in Color:
            assert set(state.backends[color]) == set(backends.endpoints[color]) == world.targets(color), color
        assert await router.observe() == state

    async def test_replace_idle_instances(self, router: ALBRouter, world: World, backends: VpcHosts) -> None:
        old_green = list(backends.endpoints[Color.GREEN])
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        state = await router.observe()
        assert state.backends[Color.GREEN] == (new_green,)
        assert world.targets(Color.GREEN) == {new_green}
        assert world.targets(Color.BLUE) == set(backends.endpoints[Color.BLUE])
        assert (state.weights, world.forward(world.prod)) == (Weights(100, 0), {Color.BLUE: 1})
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: old_green})
        assert world.targets(Color.GREEN) == set(old_green)

    async def test_prepare_one_color_leaves_the_other(self, router: ALBRouter, world: World,
                                                      backends: VpcHosts) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.GREEN: [new_green]})
        assert world.targets(Color.GREEN) == {new_green}
        assert world.targets(Color.BLUE) == set(backends.endpoints[Color.BLUE])
        await router.prepare({Color.GREEN: []})  # what bootstrap does: green empty
        assert world.targets(Color.GREEN) == set()
        assert (await router.observe()).backends[Color.GREEN] == ()

    async def test_every_call_is_idempotent(self, router: ALBRouter, world: World, backends: VpcHosts) -> None:
        await router.prepare(backends.endpoints)
        await router.prepare(backends.endpoints)
        assert world.targets(Color.BLUE) == set(backends.endpoints[Color.BLUE])
        await router.route(Weights.all_to(Color.GREEN))
        actions = (world.actions(world.prod), world.actions(world.test))
        await router.route(Weights.all_to(Color.GREEN))
        assert (world.actions(world.prod), world.actions(world.test)) == actions
        first, second = await router.observe(), await router.observe()
        assert first == second
        await router.release()
        await router.release()
        assert await router.observe() == first  # attached: the ALB keeps serving


# -- errors leave the ALB as it was ------------------------------------------------------------------

async def test_unreachable_api_is_a_router_error(world: World) -> None:
    router = make_router(world.options(endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1))
    with pytest.raises(RouterError, match=r"cannot reach the ELBv2 API at http://127\.0\.0\.1:\d+") as err:
        await router.route(Weights.all_to(Color.GREEN))
    assert "router.options.endpoint_url" in err.value.hint


async def test_hung_api_changes_nothing(world: World, moto: MotoServer) -> None:
    """moto_server stopped (SIGSTOP): the first read times out, so no change is ever sent."""
    router = make_router(world.options(timeout="0.5s", max_attempts=1))
    await router.prepare({})
    before = await router.observe()
    moto.signal(signal.SIGSTOP)
    try:
        # Two reads run at once; whichever times out first is named.
        with pytest.raises(RouterError, match=r"Describe(Listeners|TargetGroups|Rules) on [a-z ]+ arn:.*: no answer"):
            await router.route(Weights.all_to(Color.GREEN))
    finally:
        moto.signal(signal.SIGCONT)
    assert world.forward(world.prod) == {Color.BLUE: 1}
    assert await router.observe() == before


async def test_a_deleted_target_group_is_refused_before_any_change(world: World) -> None:
    router = make_router(world.options())
    await router.prepare({})
    await router.route(Weights.all_to(Color.BLUE))
    # Out of band: nothing uses green any more, and it is deleted.
    world.elb.modify_listener(ListenerArn=world.prod, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": world.groups[Color.BLUE]}])
    world.elb.modify_listener(ListenerArn=world.test, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": world.groups[Color.BLUE]}])
    world.elb.delete_target_group(TargetGroupArn=world.groups[Color.GREEN])
    with pytest.raises(RouterError, match=r"TargetGroupNotFound") as err:
        await router.route(Weights.all_to(Color.GREEN))
    assert world.groups[Color.GREEN] in str(err.value)
    assert "router.options.target_groups" in err.value.hint
    assert world.forward(world.prod) == {Color.BLUE: 1}  # moto itself would have accepted the switch


async def test_a_failed_test_listener_change_puts_production_back(world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """route() is all or nothing. moto evaluates IAM policies without resource scoping, so the test
    listener's ModifyListener is made to fail here by fault injection; every other call is real."""
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    real = router.elb.call

    async def call(op: str, subject: str, **params: Any) -> dict[str, Any]:
        if op == "ModifyListener" and params["ListenerArn"] == world.test:
            raise RouterError(f"AWS ALB: ModifyListener on listener {world.test} failed: Throttling")
        return await real(op, subject, **params)

    before = world.actions(world.prod), world.actions(world.test)
    monkeypatch.setattr(router.elb, "call", call)
    with pytest.raises(RouterError, match="put back as it was") as err:
        await router.route(Weights.all_to(Color.GREEN))
    assert f"ModifyListener on listener {world.test} failed" in str(err.value)
    assert (world.actions(world.prod), world.actions(world.test)) == before


def iam_user(world: World, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = boto3.client("iam", endpoint_url=world.url, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    name = f"turnout-{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="turnout", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


async def test_access_denied_names_the_missing_permission(world: World, moto: MotoServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = iam_user(world, [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    moto.enforce_iam(True)
    try:
        state = await router.observe()  # reading is allowed
        with pytest.raises(RouterError, match=rf"ModifyListener on listener {world.prod} failed: AccessDenied") as err:
            await router.route(Weights.all_to(Color.GREEN))
        assert "grant elasticloadbalancing:ModifyListener" in err.value.hint
        assert await router.observe() == state
    finally:
        moto.enforce_iam(False)


async def test_documented_policy_is_enough(world: World, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user with exactly the actions docs/routers.md lists runs every call (moto evaluates the policy)."""
    documented = set(re.findall(r"elasticloadbalancing:(\w+)", DOCS.read_text()))
    assert documented == set(POLICY)
    key = iam_user(world, [{"Effect": "Allow", "Action": [f"elasticloadbalancing:{a}" for a in POLICY],
                            "Resource": "*"}])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    router = make_router(world.options(deregistration_delay="20s"))
    hosts = VpcHosts()
    world.rule(1, "/api/*", Color.BLUE)  # managed with the default action: ModifyRule
    moto.enforce_iam(True)
    try:
        await router.prepare(hosts.endpoints)
        await router.route(Weights(70, 30))
        await router.prepare({Color.GREEN: [hosts.add(Color.GREEN)]})
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
    finally:
        moto.enforce_iam(False)
    assert (state.weights, state.test_color) == (Weights(0, 100), Color.BLUE)


# -- prepare() checks the resources fit together ----------------------------------------------------

@pytest.mark.parametrize(("case", "message"), [
    ("tg-missing", r"DescribeTargetGroups on target group tg-nope \(green\) failed: TargetGroupNotFound"),
    ("lb-missing", r"DescribeLoadBalancers on load balancer nope failed: LoadBalancerNotFound"),
    ("port-missing", r"has no listener on port 81 \(it has: 80, 8080\)"),
    ("listener-of-other-lb", r"test listener arn:\S+/other/\S+ belongs to load balancer \S+/other/\S+, not \S+/app/"),
    ("tg-of-other-lb", r"target group \S+tg-other\S+ \(green\) belongs to load balancer \S+/other/"),
    ("tg-in-other-vpc", r"target group \S+tg-far\S+ \(green\) is in vpc-\w+, the load balancer in vpc-"),
    ("same-listener", r"production and test listener are the same listener"),
])
async def test_prepare_refuses_what_does_not_fit(world: World, case: str, message: str) -> None:
    other_lb = world.make_lb("other")
    other_listener = world.make_listener(other_lb, 80, world.make_group("tg-other"))
    far_vpc = world.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    world.make_group("tg-far", vpc=far_vpc)
    options = {
        "tg-missing": world.options(target_groups={"blue": "tg-blue", "green": "tg-nope"}),
        "lb-missing": world.options(load_balancer_name="nope"),
        "port-missing": world.options(production_listener_port=81),
        "listener-of-other-lb": world.options(test_listener_port=None, test_listener_arn=other_listener),
        "tg-of-other-lb": world.options(target_groups={"blue": "tg-blue", "green": "tg-other"}),
        "tg-in-other-vpc": world.options(target_groups={"blue": "tg-blue", "green": "tg-far"}),
        "same-listener": world.options(test_listener_port=None, production_listener_port=None,
                                       production_listener_arn=world.prod, test_listener_arn=world.prod),
    }[case]
    if case == "same-listener":
        with pytest.raises(ConfigError, match="must not be the production listener"):
            make_router(options)
        return
    before = (world.actions(world.prod), world.actions(world.test), world.targets(Color.BLUE))
    with pytest.raises(RouterError, match=message):
        await make_router(options).prepare(VpcHosts().endpoints)
    assert (world.actions(world.prod), world.actions(world.test), world.targets(Color.BLUE)) == before


async def test_by_arns(world: World) -> None:
    router = make_router(world.options(load_balancer_name=None, load_balancer_arn=world.lb,
                                       production_listener_port=None, production_listener_arn=world.prod,
                                       test_listener_port=None, test_listener_arn=world.test,
                                       target_groups={c.value: arn for c, arn in world.groups.items()}))
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights(40, 60))
    state = await router.observe()
    assert (state.weights, state.test_color) == (Weights(40, 60), Color.BLUE)


async def test_observe_before_prepare(world: World) -> None:
    """After a crash, `resume` asks a fresh router what it serves: it finds the resources itself."""
    state = await make_router(world.options()).observe()
    assert (state.weights, state.test_color) == (Weights(100, 0), Color.GREEN)


# -- listeners changed by someone else -------------------------------------------------------------

async def test_observe_reads_what_others_set(world: World) -> None:
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    world.elb.modify_listener(ListenerArn=world.prod, DefaultActions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": world.groups[Color.BLUE], "Weight": 1},
                         {"TargetGroupArn": world.groups[Color.GREEN], "Weight": 3}]}}])
    assert (await router.observe()).weights == Weights(25, 75)
    legacy = world.make_group("tg-legacy")
    world.elb.modify_listener(ListenerArn=world.prod, DefaultActions=[{"Type": "forward", "TargetGroupArn": legacy}])
    with pytest.raises(RouterError, match=r"forwards to \S+tg-legacy\S+, which is neither"):
        await router.observe()
    await router.route(Weights.all_to(Color.BLUE))  # turnout takes the listener back
    assert world.forward(world.prod) == {Color.BLUE: 1}
    maintenance = {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "maintenance"}
    world.elb.modify_listener(ListenerArn=world.prod, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": maintenance}])
    with pytest.raises(RouterError, match=r"no single forward default action \(it has: fixed-response\)"):
        await router.route(Weights.all_to(Color.GREEN))


async def test_keeps_authentication_and_stickiness(world: World) -> None:
    oidc = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {
        "Issuer": "https://idp.example", "AuthorizationEndpoint": "https://idp.example/auth",
        "TokenEndpoint": "https://idp.example/token", "UserInfoEndpoint": "https://idp.example/user",
        "ClientId": "turnout", "ClientSecret": "secret"}}
    sticky = {"Enabled": True, "DurationSeconds": 60}
    world.elb.modify_listener(ListenerArn=world.prod, DefaultActions=[oidc, {"Type": "forward", "Order": 2,
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": world.groups[Color.BLUE], "Weight": 1}],
                          "TargetGroupStickinessConfig": sticky}}])
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights(80, 20))
    first, forward = world.actions(world.prod)
    assert (first["Type"], first["Order"], forward["Order"]) == ("authenticate-oidc", 1, 2)
    assert forward["ForwardConfig"]["TargetGroupStickinessConfig"] == sticky
    assert world.forward(world.prod) == {Color.BLUE: 80, Color.GREEN: 20}


# -- targets -----------------------------------------------------------------------------------------

async def test_register_targets_false_leaves_targets_alone(world: World) -> None:
    theirs = [{"Id": "10.10.1.99", "Port": 9000}]
    world.elb.register_targets(TargetGroupArn=world.groups[Color.BLUE], Targets=theirs)
    router = make_router(world.options(register_targets=False))
    await router.prepare(VpcHosts().endpoints)
    assert (await router.observe()).backends == {Color.BLUE: (Endpoint("10.10.1.99", 9000),), Color.GREEN: ()}


async def test_deregistration_delay_is_set(world: World) -> None:
    await make_router(world.options(deregistration_delay="45s")).prepare({})
    for arn in world.groups.values():
        attrs = world.elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        assert {a["Key"]: a["Value"] for a in attrs}["deregistration_delay.timeout_seconds"] == "45"


async def test_instance_targets(world: World) -> None:
    groups = {c: world.make_group(f"tg-i-{c}", target_type="instance") for c in Color}
    world.make_listener(world.lb, 81, groups[Color.BLUE])
    world.make_listener(world.lb, 8081, groups[Color.GREEN])
    image = world.ec2.describe_images()["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in world.ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3,
                                                             SubnetId=world.subnets[0])["Instances"]]
    router = make_router(world.options(production_listener_port=81, test_listener_port=8081,
                                       target_groups={"blue": "tg-i-blue", "green": "tg-i-green"}))
    with pytest.raises(RouterError, match=r"target type instance; endpoint 10\.10\.1\.5:8080 is not an instance id"):
        await router.prepare({Color.BLUE: [Endpoint(ids[0], 8080)], Color.GREEN: [Endpoint("10.10.1.5", 8080)]})
    assert not world.elb.describe_target_health(TargetGroupArn=groups[Color.BLUE])["TargetHealthDescriptions"]
    await router.prepare({Color.BLUE: [Endpoint(ids[0], 8080), Endpoint(ids[1], 8080)],
                          Color.GREEN: [Endpoint(ids[2], 8080)]})
    state = await router.observe()
    assert state.backends == {Color.BLUE: tuple(sorted((Endpoint(i, 8080) for i in ids[:2]), key=lambda e: e.host)),
                              Color.GREEN: (Endpoint(ids[2], 8080),)}


async def test_hostnames_are_resolved_for_ip_targets(world: World) -> None:
    router = make_router(world.options())
    await router.prepare({Color.BLUE: [Endpoint("localhost", 8000)]})
    assert world.targets(Color.BLUE) == {Endpoint("127.0.0.1", 8000)}


# -- what a real ALB does around the API (issue 15) ---------------------------------------------------

async def test_listener_rules_forwarding_to_a_color_are_switched_with_the_default_action(world: World) -> None:
    """A host or path rule that forwards to a color's group serves that color whatever the default action
    says: turnout switches it too (and reads it back), and leaves rules to other groups alone."""
    api = world.rule(10, "/api/*", Color.BLUE)
    admin_group = world.make_group("tg-admin")
    admin = str(world.elb.create_rule(ListenerArn=world.prod, Priority=5, Conditions=[
        {"Field": "path-pattern", "Values": ["/admin/*"]}], Actions=[{"Type": "forward", "TargetGroupArn": admin_group}]
    )["Rules"][0]["RuleArn"])
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights.all_to(Color.GREEN))
    assert (world.forward(world.prod), world.rule_forward(api)) == ({Color.GREEN: 1}, {Color.GREEN: 1})
    assert (await router.observe()).weights == Weights(0, 100)
    await router.route(Weights(70, 30))
    assert world.rule_forward(api) == {Color.BLUE: 70, Color.GREEN: 30}
    await router.route(Weights.all_to(Color.BLUE))
    assert world.rule_forward(api) == {Color.BLUE: 1}
    actions = world.elb.describe_rules(RuleArns=[admin])["Rules"][0]["Actions"]
    assert [a.get("TargetGroupArn") for a in actions] == [admin_group]  # not turnout's: untouched


async def test_a_rule_that_did_not_follow_is_what_observe_reports(world: World) -> None:
    api = world.rule(10, "/api/*", Color.BLUE)
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights.all_to(Color.GREEN))
    world.elb.modify_rule(RuleArn=api, Actions=[{"Type": "forward", "TargetGroupArn": world.groups[Color.BLUE]}])
    state = await router.observe()  # the default action says green; /api/* users still get blue
    assert state.weights == Weights(100, 0)


async def test_listener_rules_are_read_page_by_page(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "PAGE", 2)
    other = world.make_group("tg-other")
    for priority in range(1, 6):  # five rules of another app's group first: three pages before ours
        world.elb.create_rule(ListenerArn=world.prod, Priority=priority, Conditions=[
            {"Field": "path-pattern", "Values": [f"/other{priority}/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": other}])
    api = world.rule(50, "/api/*", Color.BLUE)
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights.all_to(Color.GREEN))
    assert world.rule_forward(api) == {Color.GREEN: 1}


@pytest.mark.parametrize("case", ["refuse", "test-listener", "mixed"])
async def test_rules_turnout_cannot_switch_are_refused_by_name(world: World, case: str) -> None:
    options = world.options(listener_rules="refuse" if case == "refuse" else None)
    if case == "mixed":
        other = world.make_group("tg-other")
        rule = str(world.elb.create_rule(ListenerArn=world.prod, Priority=7, Conditions=[
            {"Field": "path-pattern", "Values": ["/mixed/*"]}], Actions=[{"Type": "forward", "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": world.groups[Color.BLUE], "Weight": 1},
                                 {"TargetGroupArn": other, "Weight": 1}]}}])["Rules"][0]["RuleArn"])
        message = "forwards to a color's target group and to .*tg-other.*: turnout cannot switch a split"
    else:
        rule = world.rule(7, "/api/*", Color.GREEN, listener=world.test if case == "test-listener" else "")
        message = "forwards to .*tg-green.*: it would keep serving that color whatever turnout switches"
    before = (world.actions(world.prod), world.actions(world.test))
    router = make_router(options)
    with pytest.raises(RouterError, match=rf"rule {re.escape(rule)} \(priority 7\) of listener \S+ {message}"):
        await router.prepare(VpcHosts().endpoints)
    with pytest.raises(RouterError, match=re.escape(rule)):
        await router.route(Weights.all_to(Color.GREEN))
    assert (world.actions(world.prod), world.actions(world.test)) == before


async def test_stickiness_a_full_switch_sends_one_group_a_split_adds_group_stickiness(world: World) -> None:
    """AWS refuses a forward to several groups when one has stickiness and group stickiness is off
    (moto does not enforce it; docs/routers.md cites AWS): a full switch names one group, a canary split
    carries group stickiness as long as the groups' cookie."""
    world.elb.modify_target_group_attributes(TargetGroupArn=world.groups[Color.GREEN], Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "lb_cookie"},
        {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "3600"}])
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    await router.route(Weights(90, 10))
    forward = next(a for a in world.actions(world.prod) if a["Type"] == "forward")
    assert forward["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 3600}
    await router.route(Weights.all_to(Color.GREEN))
    forward = next(a for a in world.actions(world.prod) if a["Type"] == "forward")
    assert forward["TargetGroupArn"] == world.groups[Color.GREEN]
    config = forward.get("ForwardConfig") or {}  # AWS describes one group in a ForwardConfig too; moto does not
    assert [g["TargetGroupArn"] for g in config.get("TargetGroups", [])] in ([], [world.groups[Color.GREEN]])
    assert not (config.get("TargetGroupStickinessConfig") or {}).get("Enabled")
    world.elb.modify_target_group_attributes(TargetGroupArn=world.groups[Color.BLUE], Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "app_cookie"},
        {"Key": "stickiness.app_cookie.cookie_name", "Value": "SESSION"}])
    before = world.actions(world.prod)
    with pytest.raises(RouterError, match=r"tg-blue\S* \(blue\) has application-based stickiness") as err:
        await router.route(Weights(10, 90))
    assert "without canary steps" in err.value.hint
    assert world.actions(world.prod) == before
    await router.route(Weights.all_to(Color.BLUE))  # a full switch is still possible
    assert world.forward(world.prod) == {Color.BLUE: 1}


@pytest.fixture
def instances(world: World) -> tuple[dict[Color, str], list[str]]:
    """Instance target groups on listeners :81 (production, blue) and :8081 (test, green); instance ids."""
    groups = {c: world.make_group(f"tg-i-{c}", target_type="instance") for c in Color}
    world.make_listener(world.lb, 81, groups[Color.BLUE])
    world.make_listener(world.lb, 8081, groups[Color.GREEN])
    image = world.ec2.describe_images()["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in world.ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3,
                                                             SubnetId=world.subnets[0])["Instances"]]
    return groups, ids


def instance_router(world: World, **options: Any) -> ALBRouter:
    return make_router(world.options(production_listener_port=81, test_listener_port=8081,
                                     target_groups={"blue": "tg-i-blue", "green": "tg-i-green"}, **options))


async def test_traffic_moves_only_to_healthy_targets(world: World,
                                                     instances: tuple[dict[Color, str], list[str]]) -> None:
    """moto reports a stopped instance `unused`, a running one `healthy`: route() waits, polling
    DescribeTargetHealth, until the new color's targets are healthy, and observe() counts only those."""
    groups, ids = instances
    router = instance_router(world, health_timeout="20s")
    await router.prepare({Color.BLUE: [Endpoint(ids[0], 8080)], Color.GREEN: [Endpoint(ids[2], 8080)]})
    world.ec2.stop_instances(InstanceIds=[ids[2]])  # registered, then its health check fails
    state = await router.observe()
    assert state.backends[Color.GREEN] == () and state.targets == {  # registered, not serving
        Color.BLUE: (Endpoint(ids[0], 8080),), Color.GREEN: (Endpoint(ids[2], 8080),)}
    started = time.monotonic()
    threading.Timer(1.0, lambda: world.ec2.start_instances(InstanceIds=[ids[2]])).start()
    await router.route(Weights.all_to(Color.GREEN))
    assert time.monotonic() - started >= 1.0  # it waited for the target to pass its health check
    assert world.elb.describe_listeners(ListenerArns=[
        next(x["ListenerArn"] for x in world.elb.describe_listeners(LoadBalancerArn=world.lb)["Listeners"]
             if x["Port"] == 81)])["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"] == groups[Color.GREEN]
    assert (await router.observe()).backends[Color.GREEN] == (Endpoint(ids[2], 8080),)


async def test_a_color_without_enough_healthy_targets_gets_no_more_traffic(
        world: World, instances: tuple[dict[Color, str], list[str]]) -> None:
    _, ids = instances
    router = instance_router(world, health_timeout="1s")
    targets = {Color.BLUE: [Endpoint(ids[0], 8080)], Color.GREEN: [Endpoint(ids[1], 8080), Endpoint(ids[2], 8080)]}
    await router.prepare(targets)
    world.ec2.stop_instances(InstanceIds=[ids[2]])
    with pytest.raises(RouterError, match=rf"refusing to send more traffic to green: target group \S+tg-i-green\S+ "
                                          rf"has 1 healthy of 2 registered targets \(.*{ids[2]}:8080 unused.*\)"):
        await router.route(Weights.all_to(Color.GREEN))
    assert (await router.observe()).weights == Weights(100, 0)  # nothing was written
    await instance_router(world, health_timeout="1s", healthy_targets=1).route(Weights(50, 50))  # enough: 1 of 2
    assert (await router.observe()).weights == Weights(50, 50)


async def test_route_always_writes(world: World) -> None:
    """ELBv2 does not document read-after-write consistency: a read that already shows the split must not
    turn a rollback into a no-op, so every route() sends its ModifyListener calls."""
    router = make_router(world.options())
    await router.prepare(VpcHosts().endpoints)
    sent: list[str] = []
    real = router.elb.call

    async def spy(op: str, subject: str, **params: Any) -> dict[str, Any]:
        if op.startswith("Modify"):
            sent.append(op)
        return await real(op, subject, **params)

    router.elb.call = spy  # type: ignore[method-assign]
    await router.route(Weights.all_to(Color.BLUE))  # already served
    await router.route(Weights.all_to(Color.BLUE))
    assert sent == ["ModifyListener", "ModifyListener"] * 2


class VpcRuntime(FakeRuntime):
    """FakeRuntime whose instances have addresses of their own in the VPC (moto keys targets by IP)."""

    addresses = itertools.count(20)

    @staticmethod
    def _instance() -> InstanceStatus:
        return InstanceStatus(Endpoint(f"10.10.3.{next(VpcRuntime.addresses)}", 8000), healthy=True)


async def test_the_reconcile_loop_replaces_a_dead_target(world: World, tmp_path: Path) -> None:
    """An instance replaced outside turnout (a node drained, an ASG replacement) leaves a dead target in
    the live group until the agent's reconcile loop gives the router the runtime's instances again."""
    cfg = parse_config('[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\n[stabilize]\nwindow = "0s"\n',
                       base_dir=tmp_path)
    runtime = VpcRuntime()
    stack = Stack(cfg, SqliteStore(tmp_path / "state.db"), make_router(world.options()), runtime, [])
    orch = stack.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    live = runtime.envs[Color.GREEN].instances
    dead = live[0].endpoint
    live[0] = VpcRuntime._instance()
    assert dead in world.targets(Color.GREEN)
    loop = Reconciler(stack.orchestrator(actor="agent"), busy=lambda: False, grace=0)
    await loop.tick()
    assert world.targets(Color.GREEN) == {i.endpoint for i in live}
    assert any("router given the instances of green again" in e.reason for e in orch.store.history("shop"))
    await loop.tick()
    assert loop.drifts == {}


async def test_a_target_failing_its_health_check_is_no_drift_to_repair(
        world: World, instances: tuple[dict[Color, str], list[str]], tmp_path: Path) -> None:
    """observe() counts only healthy targets as serving; the reconciler compares the runtime with the
    registered ones (RouteState.targets), so a target the ALB marks unhealthy is not re-registered every
    second, and the audit log is not flooded."""
    _, ids = instances
    free = iter(ids)

    class InstanceRuntime(FakeRuntime):
        @staticmethod
        def _instance() -> InstanceStatus:
            return InstanceStatus(Endpoint(next(free), 8080), healthy=True)

    cfg = parse_config('[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\ninstances = 1\n[stabilize]\n'
                       'window = "0s"\n', base_dir=tmp_path)
    runtime = InstanceRuntime(instances=1)
    stack = Stack(cfg, SqliteStore(tmp_path / "state.db"), instance_router(world), runtime, [])
    orch = stack.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    green = runtime.envs[Color.GREEN].instances[0].endpoint.host
    world.ec2.stop_instances(InstanceIds=[green])
    state = await stack.router.observe()
    assert state.backends[Color.GREEN] == () and state.targets and state.targets[Color.GREEN]
    loop = Reconciler(stack.orchestrator(actor="agent"), busy=lambda: False, grace=0)
    for _ in range(3):
        await loop.tick()
    assert [e for e in orch.store.history("shop") if e.action == "reconcile"] == []


def test_max_attempts_counts_every_attempt() -> None:
    """A throttled API is tried max_attempts times in all (botocore's own max_attempts counts retries)."""
    seen: list[str] = []

    class Throttled(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            body = (b'<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error>'
                    b"<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                    b"<RequestId>1</RequestId></ErrorResponse>")
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttled)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for attempts in (1, 2):
            seen.clear()
            elb = ELB(region=REGION, endpoint_url=f"http://127.0.0.1:{server.server_port}", timeout=5,
                      attempts=attempts)
            with pytest.raises(RouterError, match="DescribeListeners on L failed: Throttling: Rate exceeded"):
                asyncio.run(elb.call("DescribeListeners", "L", ListenerArns=["x"]))
            assert len(seen) == attempts
    finally:
        server.shutdown()


def test_moto_fidelity_gaps(world: World) -> None:
    """What moto does differently from AWS, pinned so docs/routers.md stays true (and we notice a fix)."""
    blue, green = world.groups[Color.BLUE], world.groups[Color.GREEN]
    # 1. A forward to a target group that does not exist is accepted (AWS: TargetGroupNotFound).
    ghost = green.replace("tg-green", "tg-ghost")
    world.elb.modify_listener(ListenerArn=world.test, DefaultActions=[{"Type": "forward", "TargetGroupArn": ghost}])
    assert world.actions(world.test)[0]["TargetGroupArn"] == ghost
    # 2. Targets are keyed by Id alone: the same IP on a second port replaces the first (AWS keeps both).
    world.elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": "10.10.1.7", "Port": 1},
                                                              {"Id": "10.10.1.7", "Port": 2}])
    assert world.targets(Color.BLUE) == {Endpoint("10.10.1.7", 2)}
    # 3. Health is synthetic (no health check runs: nothing listens on 10.10.1.7) and a deregistered
    #    target disappears at once (AWS: `initial`, then `draining` for deregistration_delay).
    health = world.elb.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]
    assert [h["TargetHealth"]["State"] for h in health] == ["healthy"]
    world.elb.deregister_targets(TargetGroupArn=blue, Targets=[{"Id": "10.10.1.7", "Port": 2}])
    assert world.targets(Color.BLUE) == set()
    # 4. An IP target in an instance target group is accepted (AWS: ValidationError).
    group = world.make_group("tg-inst", target_type="instance")
    world.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.10.1.8", "Port": 80}])
    # 5. TargetGroup.LoadBalancerArns is set by CreateListener only, never by ModifyListener.
    late = world.make_group("tg-late")
    world.elb.modify_listener(ListenerArn=world.test, DefaultActions=[{"Type": "forward", "TargetGroupArn": late}])
    assert world.elb.describe_target_groups(TargetGroupArns=[late])["TargetGroups"][0]["LoadBalancerArns"] == []


# -- pure parts ----------------------------------------------------------------------------------

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"


@pytest.mark.parametrize(("changes", "message"), [
    ({"target_groups": None}, "router.options.target_groups: field required"),
    ({"region": None, "regoin": "x"}, "router.options.region: field required; router.options.regoin: unknown key"),
    ({"region": "Virginia"}, "router.options.region: String should match pattern"),
    ({"load_balancer_name": None, "load_balancer_arn": ARN + "loadbalancer/net/x/0123"},
     "router.options.load_balancer_arn: expected an ALB ARN"),
    ({"load_balancer_arn": ARN + "loadbalancer/app/x/0123"},
     "router.options.load_balancer_arn: give either load_balancer_arn or load_balancer_name"),
    ({"production_listener_port": None}, "router.options.production_listener_arn: give either"),
    ({"target_groups": {"blue": "tg-blue"}}, "router.options.target_groups: green missing"),
    ({"target_groups": {"blue": "tg-blue", "red": "tg-red"}}, "router.options.target_groups.red: Input should"),
    ({"target_groups": {"blue": "tg-blue", "green": "tg-blue"}}, "router.options.target_groups: blue and green are"),
    ({"target_groups": {"blue": "tg_blue!", "green": "tg-green"}},
     "router.options.target_groups.blue: expected a target group ARN or name"),
    ({"target_groups": {"blue": ARN.replace("us-east-1", "eu-west-1") + "targetgroup/b/01", "green": "tg-green"}},
     "router.options.target_groups.blue: the ARN is in eu-west-1, router.options.region is us-east-1"),
    ({"test_listener_port": 80}, "router.options.test_listener_port: the test listener must not be"),
    ({"endpoint_url": "localhost:5000"}, "router.options.endpoint_url: String should match pattern"),
    ({"deregistration_delay": "2h"}, "router.options.deregistration_delay: Input should be less than or equal to 3600"),
    ({"register_targets": "maybe"}, "router.options.register_targets: Input should be a valid boolean"),
    ({"production_listener_port": None, "load_balancer_name": None, "load_balancer_arn": ARN + "loadbalancer/app/a/01",
      "production_listener_arn": ARN + "listener/app/b/02/03"},
     "router.options.production_listener_arn: a listener of load balancer b/02, not of a/01"),
])
def test_options_are_validated(changes: dict[str, Any], message: str) -> None:
    base = {"region": "us-east-1", "load_balancer_name": "app", "production_listener_port": 80,
            "test_listener_port": 8080, "target_groups": {"blue": "tg-blue", "green": "tg-green"}}
    options = {k: v for k, v in {**base, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        make_router(options)
    assert str(err.value).startswith(message), str(err.value)


def test_registered_by_name() -> None:
    assert registry.load("routers", "aws_alb", key=("router", "kind")) is ALBRouter


def _client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, op)


@pytest.mark.parametrize(("exc", "op", "text", "hint"), [
    (_client_error("AccessDenied", "ModifyListener"), "ModifyListener",
     "ModifyListener on L failed: AccessDenied: no", "grant elasticloadbalancing:ModifyListener"),
    (_client_error("ListenerNotFound", "DescribeListeners"), "DescribeListeners",
     "DescribeListeners on L failed: ListenerNotFound: no", "router.options.production_listener_"),
    (_client_error("InvalidClientTokenId", "DescribeListeners"), "DescribeListeners",
     "failed: InvalidClientTokenId", "AWS_PROFILE"),
    (EndpointConnectionError(endpoint_url="http://x"), "DescribeListeners",
     "cannot reach the ELBv2 API at http://x (DescribeListeners on L)", "router.options.endpoint_url"),
    (ReadTimeoutError(endpoint_url="http://x"), "ModifyListener",
     "no answer from http://x", "observe()"),
    (ReadTimeoutError(endpoint_url="http://x"), "DescribeListeners",
     "DescribeListeners on L: no answer from http://x", "router.options.timeout"),
])
def test_errors_are_translated(exc: Exception, op: str, text: str, hint: str) -> None:
    err = translate(exc, op=op, subject="L", endpoint="http://x")
    assert text in str(err)
    assert hint in err.hint


def test_forward_plans() -> None:
    groups = {Color.BLUE: "B", Color.GREEN: "G"}
    assert plan.split({"B": 0, "G": 100}, groups, "L") == Weights(0, 100)
    assert plan.split({"B": 1}, groups, "L") == Weights(100, 0)
    assert plan.split({"B": 2, "G": 1}, groups, "L") == Weights(67, 33)
    assert plan.split({"B": 100, "X": 0}, groups, "L") == Weights(100, 0)  # a foreign group at 0 is harmless
    with pytest.raises(RouterError, match="neither"):
        plan.split({"X": 1}, groups, "L")
    with pytest.raises(RouterError, match="splits"):
        plan.only_color({"B": 1, "G": 1}, groups, "L")
    auth = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"ClientId": "c"}}
    actions = plan.with_forward([auth, {"Type": "forward", "Order": 2, "TargetGroupArn": "B"}], "L",
                                plan.test_forward("G"))
    assert actions == [{**auth, "AuthenticateOidcConfig": {"ClientId": "c", "UseExistingClientSecret": True}},
                       {"Type": "forward", "TargetGroupArn": "G", "Order": 2}]


def test_target_changes() -> None:
    a, b, c = ("10.0.0.1", 80), ("10.0.0.2", 80), ("10.0.0.3", 80)
    assert plan.changes({a: "healthy", b: "unhealthy"}, [b, c, c]) == ([c], [a])
    assert plan.changes({a: "draining"}, [a]) == ([a], [])  # a draining target comes back
    states = {b: "healthy", a: "draining", c: "initial"}
    assert plan.serving(states) == (Endpoint(*b),)  # only a healthy target gets requests
    assert plan.given(states) == (Endpoint(*b), Endpoint(*c))  # registered and not on its way out
