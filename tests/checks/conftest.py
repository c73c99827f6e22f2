"""Fixtures: fake app processes on free loopback ports, each owned and stopped by its fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .checks_support import App, refused_port, start_fakeapp


@pytest.fixture
def start_app() -> Iterator[Callable[..., App]]:
    """start_app('--color', 'blue', ...) -> App; every app started is stopped at teardown."""
    apps: list[App] = []

    def start(*args: str) -> App:
        apps.append(start_fakeapp(*args))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()


@pytest.fixture
def app(start_app: Callable[..., App]) -> App:
    return start_app("--color", "blue", "--version", "v1")


@pytest.fixture
def refused_url() -> str:
    return f"http://127.0.0.1:{refused_port()}"
