"""The engine against platform behaviour found in issue 15, on the fakes: reads that fail while a
switch is verified, a router that serves another color than the state says (a GitOps sync), a
preview size scaled up before the switch, and drift that keeps coming back."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout import config
from turnout.control.local import Stack
from turnout.errors import RouterError
from turnout.model import Color, RouteState, Weights
from turnout.store import SqliteStore
from turnout.testing.fakes import FakeRouter, FakeRuntime


class FlakyRouter(FakeRouter):
    """A fake router whose first `fail_reads` observe() calls after a route() raise, as a throttled API does."""

    fail_reads = 0
    _failing = 0

    async def route(self, weights: Weights) -> None:
        await super().route(weights)
        self._failing = self.fail_reads

    async def observe(self) -> RouteState:
        if self._failing:
            self._failing -= 1
            self.calls.append("observe failed")
            raise RouterError("AWS ALB: DescribeListeners failed: Throttling: Rate exceeded")
        return await super().observe()


def stack(tmp_path: Path, extra: str = "", router: FakeRouter | None = None) -> Stack:
    cfg = config.parse(f'[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\n[stabilize]\nwindow = "0s"\n{extra}',
                       base_dir=tmp_path)
    return Stack(cfg, SqliteStore(tmp_path / "state.db"), router or FakeRouter(), FakeRuntime(), [])


async def test_a_failed_read_while_verifying_is_not_a_failed_switch(tmp_path: Path) -> None:
    router = FlakyRouter()
    s = stack(tmp_path, router=router)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", switch=False)
    router.fail_reads = 3
    router.calls.clear()
    dep = await orch.switch(Color.GREEN)
    assert dep.active is Color.GREEN
    # one route(), three failed reads, then the read that confirmed it: never routed back
    assert router.calls.count("route") == 1
    assert router.calls.count("observe failed") == 3
    assert (await router.observe()).weights == Weights.all_to(Color.GREEN)


async def test_reads_failing_past_the_deadline_fail_the_switch_and_say_why(tmp_path: Path) -> None:
    router = FlakyRouter()
    s = stack(tmp_path, '[deploy]\nverify_timeout = "300ms"\n', router=router)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", switch=False)
    router.fail_reads = 10_000
    with pytest.raises(RouterError, match=r"nothing readable \(AWS ALB: DescribeListeners failed: Throttling"):
        await orch.route_and_verify(Weights.all_to(Color.GREEN))
    polls = router.calls.count("observe failed")
    assert 3 <= polls <= 8  # backed off (20 ms doubling), not a read every 20 ms for 300 ms
