"""The fakes keep the contracts the real drivers keep, and import nothing from pytest."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from turnout.checks.base import Target
from turnout.model import Color, Release, Verdict, Weights
from turnout.runtimes.base import Runtime
from turnout.testing.contracts import RouterApiContract, RuntimeContract
from turnout.testing.fakes import FakeRouter, FakeRuntime, ScriptedCheck


class TestFakeRouter(RouterApiContract):
    router_class = FakeRouter
    restartable = False  # nothing runs; a "down" fake router raises until a test brings it back

    async def crash(self, router: Any) -> None:
        router.down = True


class TestFakeRuntime(RuntimeContract):
    @pytest.fixture
    def runtime(self) -> Callable[..., Runtime]:
        return lambda instances=2: FakeRuntime(instances)


def test_testing_imports_without_pytest() -> None:
    code = "import sys; sys.modules['pytest'] = None; import turnout.testing, turnout.testing.fakes"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


async def test_fake_router_can_lag_and_drift() -> None:
    router = FakeRouter()
    router.lag = 2
    await router.route(Weights.all_to(Color.GREEN))
    assert [(await router.observe()).weights for _ in range(3)] == [Weights(100, 0)] * 2 + [Weights(0, 100)]
    router.drift(Weights(50, 50))
    assert (await router.observe()).test_color is Color.GREEN  # a tie keeps blue dominant


async def test_scripted_check_follows_its_script() -> None:
    check = ScriptedCheck("smoke", ["fail", "pass"])
    target = Target(url="http://x", color=Color.GREEN, release=Release("2"))
    assert [(await check.measure(target)).verdict for _ in range(3)] == [Verdict.FAIL, Verdict.PASS, Verdict.PASS]
