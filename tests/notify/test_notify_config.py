"""[[notify]] in turnout.toml: each mistake named with its key and line, secrets and URLs read from the
environment or a file, and the older `webhooks` list kept as json targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout import config as config_mod
from turnout.control.local import build_notifier
from turnout.errors import ConfigError

from ..agent_helpers import turnout
from ..conftest import write_config

APP = "[app]\nname = 'shop'\n"


@pytest.mark.parametrize(("entry", "error"), [
    ("url = 'ftp://x'", "notify[0].url: expected an http(s) URL or an environment variable, got 'ftp://x' "
                        "(turnout.toml line 4)"),
    ("url = 'http://x/'\nformat = 'teams'", "notify[0].format: Input should be 'json', 'slack', 'msteams', "
                                            "'discord', 'googlechat' or 'template' (turnout.toml line 5)"),
    ("url = 'http://x/'\nformat = 'template'", 'notify[0]: format = "template" needs a `template` '
                                               "(turnout.toml line 3)"),
    ("url = 'http://x/'\ntemplate = '{text}'", 'notify[0].template: a template goes with format = "template" '
                                               "(turnout.toml line 5)"),
    ("url = 'http://x/'\nformat = 'template'\ntemplate = '{\"a\": {text}}'",
     "notify[0].template: not JSON once filled (Expecting value: line 1 column 7 (char 6)); put the "
     "placeholders inside strings, or set content_type (turnout.toml line 6)"),
    ("url = 'http://x/'\nformat = 'template'\ntemplate = '{who}'",
     "notify[0].template: unknown placeholder {who}; use {action}, {active}, {actor}, {app}, {at}, {event}, "
     "{from}, {id}, {outcome}, {phase}, {reason}, {text}, {time}, {to}, {version} (turnout.toml line 6)"),
    ("url = 'http://x/'\nsecret = 'a'\nsecret_file = 'b'",
     "notify[0].secret_file: set `secret` or `secret_file`, not both (turnout.toml line 6)"),
    ("url = 'http://x/'\nevents = ['deploy started']",
     "notify[0].events: expected action:outcome patterns like deploy:* or *:failed, got 'deploy started' "
     "(turnout.toml line 5)"),
    ("url = 'http://x/'\nretries = 11", "notify[0].retries: Input should be less than or equal to 10 "
                                        "(turnout.toml line 5)"),
])
def test_config_mistakes_name_key_and_line(entry: str, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config_mod.parse(APP + "[[notify]]\n" + entry + "\n")
    assert str(exc.value) == error


def test_url_and_secret_come_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hook.secret").write_text("from-a-file\n")
    monkeypatch.setenv("TEST_SLACK_URL", "https://hooks.slack.example/services/T/B/x")
    monkeypatch.setenv("TEST_SECRET", "from-env$with-a-dollar")
    path = write_config(tmp_path, top="webhooks = ['http://127.0.0.1:9/legacy']", extra="""
[[notify]]
url = "${TEST_SLACK_URL}"
format = "slack"

[[notify]]
url = "http://127.0.0.1:9/signed"
secret = "${TEST_SECRET}"
events = ["deploy", "*:failed"]

[[notify]]
url = "http://127.0.0.1:9/file"
secret_file = "hook.secret"
""")
    notifier = build_notifier(config_mod.load(path))
    assert notifier is not None
    legacy, slack, signed, filed = (d.target for d in notifier.dispatchers)
    assert (legacy.name, legacy.format, legacy.events, legacy.secret) == ("webhooks[0]", "json", ("*",), None)
    assert (slack.url, slack.name, slack.where) == ("https://hooks.slack.example/services/T/B/x",
                                                    "slack@hooks.slack.example", "https://hooks.slack.example")
    assert slack.wants("switch:ok") and not slack.wants("validate:measured")  # chat formats: the headlines
    assert (signed.secret, signed.events) == (b"from-env$with-a-dollar", ("deploy", "*:failed"))
    assert filed.secret == b"from-a-file"


def test_an_unset_variable_is_a_config_error_at_check_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, extra='[[notify]]\nurl = "http://127.0.0.1:9/x"\n'
                                        'secret = "${TURNOUT_NOT_SET_ANYWHERE}"\n')
    line = path.read_text().splitlines().index('secret = "${TURNOUT_NOT_SET_ANYWHERE}"') + 1
    res = turnout(tmp_path, "check-config")
    assert res.returncode == 2
    assert (f"notify[0].secret: the environment variable TURNOUT_NOT_SET_ANYWHERE is not set ({path} line {line})"
            in res.stderr), res.stderr
