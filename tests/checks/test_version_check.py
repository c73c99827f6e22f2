"""The version check against a real app process: where the version is read ([health] version_path and
version_field: a JSON field, a nested one, a plain-text body), and an app that cannot report one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from turnout import config
from turnout.checks.version import VersionCheck
from turnout.control.local import build_checks
from turnout.errors import ConfigError
from turnout.model import Verdict

from .checks_support import App, target_for


def checks_of(health: str, extra: str = "") -> list[object]:
    return list(build_checks(config.parse(f'[app]\nname = "t"\n\n[health]\n{health}\n{extra}')))


def version_check(health: str) -> VersionCheck:
    found = [c for c in checks_of(health) if isinstance(c, VersionCheck)]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("health", [
    'version_path = "/version"',
    'version_path = "/actuator/info"\nversion_field = "build.version"',
    'version_path = "/version.txt"\nversion_field = ""',
])
async def test_the_version_is_read_where_the_app_keeps_it(start_app: Callable[..., App], health: str) -> None:
    check = version_check(health)
    right = await check.measure(target_for(start_app("--version", "v2")))
    assert (right.verdict, right.value) == (Verdict.PASS, "v2"), right.detail
    wrong = await check.measure(target_for(start_app("--version", "v1")))
    assert (wrong.verdict, wrong.value) == (Verdict.FAIL, "v1"), wrong.detail


async def test_a_missing_field_or_a_text_body_read_as_json_say_so(start_app: Callable[..., App]) -> None:
    app = start_app("--version", "v2")
    missing = await version_check('version_path = "/actuator/info"\nversion_field = "build.tag"').measure(
        target_for(app))
    assert (missing.verdict, missing.value) == (Verdict.FAIL, "(no build.tag)")
    text = await version_check('version_path = "/version.txt"').measure(target_for(app))
    assert text.verdict is Verdict.ERROR and 'version_field = ""' in text.detail


def test_an_app_that_cannot_report_its_version_turns_the_check_off() -> None:
    assert not any(isinstance(c, VersionCheck) for c in checks_of('version_path = ""'))
    with pytest.raises(ConfigError, match="needs a path") as err:  # asked for by name, it needs somewhere to look
        checks_of('version_path = ""', '\n[[checks]]\nkind = "version"\n')
    assert err.value.problems[0].key[:2] == ("checks", 0)
    assert any(isinstance(c, VersionCheck) for c in checks_of('version_path = ""',
                                                              '\n[[checks]]\nkind = "version"\npath = "/v"\n'))


@pytest.mark.parametrize("health", ['path = "health"', 'version_path = "version"', 'path = ""'])
def test_health_paths_must_be_paths(health: str) -> None:
    with pytest.raises(ConfigError, match="starting with /"):
        config.parse(f'[app]\nname = "t"\n\n[health]\n{health}\n')
