"""Fixtures: a fresh kmock API server per test (it starts in milliseconds) and its fake controller."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kubernetes.cluster import FakeCluster, FakeController

NS = "shop-prod"


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    c = FakeCluster()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def controller(cluster: FakeCluster) -> Iterator[FakeController]:
    with FakeController(cluster, NS) as ctl:
        yield ctl
