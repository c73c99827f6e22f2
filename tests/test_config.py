"""Config errors name the key path and the line; valid files load with defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from turnout import config
from turnout.errors import ConfigError

GOOD = """
[app]
name = "shop"

[runtime]
command = ["python", "app.py", "--port", "{port}", "--version", "{version}"]
instances = 3

[router]
production = "127.0.0.1:9000"
test = "127.0.0.1:9001"

[deploy]
retention = "15m"

[[checks]]
kind = "smoke"
command = "curl -f {test_url}/"
timeout = "30s"
"""


def test_good_file_loads_with_defaults() -> None:
    cfg = config.parse(GOOD)
    assert cfg.app.name == "shop"
    assert cfg.runtime.instances == 3
    assert cfg.deploy.retention == 900.0
    assert cfg.checks[0].timeout == 30.0
    assert cfg.health.path == "/health/ready"
    assert cfg.router.kind == "builtin"


@pytest.mark.parametrize(("text", "expected"), [
    ("[app]\nname = 'x'\n[router]\nproduction = 'nope'\n",
     "router.production: expected host:port, got 'nope' (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n[runtime]\ninstances = 0\n",
     "runtime.instances: Input should be greater than or equal to 1 (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n\n[deploy]\nretention = 'soon'\n",
     "deploy.retention: expected a duration like 30s, 15m or 500ms, got 'soon' (turnout.toml line 5)"),
    ("[app]\nname = 'x'\n[router]\nkind = 'builtin'\nsokcet = '/x'\n",
     "router.sokcet: unknown key (turnout.toml line 5)"),
    ("[router]\nkind = 'builtin'\n", "app: field required (turnout.toml)"),
    ("[app]\nname = 'x'\n[runtime]\ncommand = ['run', '{prot}']\n",
     "runtime.command: unknown placeholder {prot}; use {color}, {instance}, {port}, {version} (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n[[checks]]\nkind = 'smoke'\n[[checks]]\nkind = 'smoke'\ntimeout = 'x'\n",
     "checks[1].timeout: expected a duration like 30s, 15m or 500ms, got 'x' (turnout.toml line 7)"),
    ("[app]\nname = 'bad name!'\n", "app.name: 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or "
                                    "digit; got 'bad name!'"),
    # validated by the schema at load time, not at deploy time
    ("[app]\nname = 'x'\n[deploy]\nsteps = [50, 5]\n",
     "deploy.steps: canary steps must rise from 1 to 100 percent, got [50, 5] (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n[router]\nadmin = 'nonsense'\n",
     "router.admin: expected host:port or unix:/path, got 'nonsense' (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n[[checks]]\nkind = 'smoke'\ncommand = 'curl {tset_url}'\n",
     "checks[0].command: unknown placeholder {tset_url}; use {color}, {production_url}, {test_url}, {version} "
     "(turnout.toml line 5)"),
    ("[app]\nname = 'x'\n[runtime]\nkind = 'static'\n[runtime.hosts]\nblue = ['web1']\n",
     "runtime.hosts.blue[0]: expected host:port, got 'web1' (turnout.toml line 6)"),
    ("[app]\nname = 'x'\n[hooks]\n\"post-swtich\" = 'true'\n",
     "hooks.post-swtich: unknown key (turnout.toml line 4)"),
    ("[app]\nname = 'x'\n[database]\nmigrations = 'm'\n", "database.url: field required (turnout.toml line 3)"),
    ("webhooks = ['ftp://x']\n[app]\nname = 'x'\n",
     "webhooks: expected an http(s) URL, got 'ftp://x' (turnout.toml line 1)"),
])
def test_errors_name_key_path_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(text)
    assert expected in str(exc.value)


def test_invalid_toml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        config.parse("[app]\nname = \n")


def test_a_nul_in_any_value_is_a_config_error_with_its_key_and_line() -> None:
    text = GOOD.replace('instances = 3', 'instances = 3\ncwd = "a\\u0000b"').replace('"app.py"', '"app\\u0000.py"')
    with pytest.raises(ConfigError) as exc:
        config.parse(text)
    assert "runtime.cwd: a control character (NUL) is not allowed in a value (turnout.toml line 8)" in str(exc.value)
    assert "runtime.command[1]" in str(exc.value)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse("[app]\nname = 'x'\n[runtime]\ninstances = -1\nready_timeout = 'x'\n")
    assert "runtime.instances" in str(exc.value) and "runtime.ready_timeout" in str(exc.value)


def test_starter_file_is_valid(tmp_path: Path) -> None:
    text = config.starter(name="demo-app", python="python3", app="app.py")
    cfg = config.parse(text, base_dir=tmp_path)
    assert cfg.app.name == "demo-app"
    assert cfg.runtime.command[-1] == "{version}"
    assert cfg.state_dir() == (tmp_path / ".turnout").resolve()


def test_find_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no turnout.toml"):
        config.load()
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(("value", "seconds"), [(5, 5.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("1.5s", 1.5)])
def test_durations(value: object, seconds: float) -> None:
    assert config.parse_duration(value) == seconds


def test_check_option_errors_point_at_the_line(tmp_path: Path) -> None:
    from turnout.control.local import build_checks

    text = "[app]\nname = 'x'\n\n[[checks]]\nkind = 'smoke'\ncommand = 'true'\n\n[[checks]]\nkind = 'latency'\n"
    cfg = config.parse(text, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"checks\[1\]\.max: field required \(turnout.toml line 8\)"):
        build_checks(cfg)


def test_canary_steps_on_a_router_that_cannot_split_are_refused_at_check_config(tmp_path: Path) -> None:
    from turnout.control.local import Stack

    text = ("[app]\nname = 'x'\n[runtime]\ncommand = ['app']\n[router]\nkind = 'kubernetes'\n"
            "[router.options]\nnamespace = 'shop'\n"
            "service = 'shop'\ntest_service = 'shop-test'\n[deploy]\nsteps = [5, 50, 100]\n")
    with pytest.raises(ConfigError, match="deploy.steps: the kubernetes router cannot split traffic"):
        Stack.build(config.parse(text, base_dir=tmp_path))


def test_driver_option_errors_point_at_the_line(tmp_path: Path) -> None:
    from turnout.control.local import Stack

    text = "[app]\nname = 'x'\n[runtime]\ncommand = ['app']\n[router]\nkind = 'haproxy'\n[router.options]\nsokcet = 1\n"
    with pytest.raises(ConfigError, match=r"router\.options\.sokcet: unknown key \(turnout.toml line 8\)"):
        Stack.build(config.parse(text, base_dir=tmp_path))


@pytest.mark.parametrize(("router", "clash"), [
    ('production = "127.0.0.1:9000"\ntest = "127.0.0.1:9000"', "test (127.0.0.1:9000) and production"),
    ('admin = "127.0.0.1:8080"', "admin (127.0.0.1:8080) and production"),  # production's default
    ('kind = "haproxy"\nproduction = "0.0.0.0:9000"\ntest = "127.0.0.1:9000"', "test (127.0.0.1:9000) and production"),
    ('production = "[::]:9000"\nadmin = "[::1]:9000"', "admin ([::1]:9000) and production"),
])
def test_the_routers_own_listeners_need_ports_of_their_own(router: str, clash: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(clash)):
        config.parse(f'[app]\nname = "x"\n\n[router]\n{router}\n')


@pytest.mark.parametrize("router", [
    'production = "127.0.0.2:9000"\ntest = "127.0.0.1:9000"',  # two loopback addresses
    'production = "127.0.0.1:0"\ntest = "127.0.0.1:0"',  # chosen at start
    'admin = "unix:/run/turnout.sock"',
    'kind = "kubernetes"\nproduction = "127.0.0.1:9000"\ntest = "127.0.0.1:9000"',  # not listeners of ours
])
def test_distinct_listeners_are_fine(router: str) -> None:
    config.parse(f'[app]\nname = "x"\n\n[router]\n{router}\n')


def test_the_http_api_needs_a_port_of_its_own() -> None:
    with pytest.raises(ConfigError, match=re.escape("api.listen (127.0.0.1:8081) and router.test")):
        config.parse('[app]\nname = "x"\n\n[api]\nlisten = "127.0.0.1:8081"\n')
    config.parse('[app]\nname = "x"\n\n[api]\nlisten = "127.0.0.1:7390"\n')
