"""The configuration file: defaults, validation, clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from olactors.config import Config, ConfigError, named_secrets, read_secret
from olactors.http import reach

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_config_file_spells_out_the_embedded_defaults() -> None:
    # Its relative paths are read against config/, and "../var" is the
    # repository's var/: where the built-in "var" is from the repository root.
    assert Config.load(REPO / "config" / "olactors.toml") == Config().anchored(REPO)


def test_an_unknown_key_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[supervision]\nmax_restart = 3\n")
    with pytest.raises(ConfigError, match=r"supervision\.max_restart: Extra inputs"):
        Config.load(path)


def test_an_invalid_value_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[supervision]\nmax_restarts = -1\n")
    with pytest.raises(ConfigError, match=r"supervision\.max_restarts: .*greater than or equal"):
        Config.load(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        Config.load(tmp_path / "absent.toml")


def test_a_file_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[supervision\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load(path)


def test_without_a_path_the_embedded_defaults_are_used_outside_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("olactors.config._root.SYSTEM_CONFIG_PATH", tmp_path / "etc.toml")
    assert Config.discover(None, env={}) == (Config().anchored(tmp_path), "embedded defaults")


def test_without_a_path_the_working_directory_config_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "olactors.toml").write_text("[log]\nlevel = 'DEBUG'\n")
    monkeypatch.chdir(tmp_path)
    config, source = Config.discover(None, env={})
    assert config.log.level == "DEBUG"
    assert source == str(tmp_path / "config" / "olactors.toml")


def test_without_a_path_the_file_olactors_config_names_is_used(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.toml"
    named.write_text("[log]\nlevel = 'DEBUG'\n")
    config, source = Config.discover(None, env={"OLACTORS_CONFIG": str(named)})
    assert (config.log.level, source) == ("DEBUG", str(named))


def test_a_file_olactors_config_names_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        Config.discover(None, env={"OLACTORS_CONFIG": str(tmp_path / "absent.toml")})


def test_without_a_path_or_a_local_file_the_system_config_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "etc" / "olactors.toml"
    system.parent.mkdir()
    system.write_text("[log]\nlevel = 'WARNING'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("olactors.config._root.SYSTEM_CONFIG_PATH", system)
    config, source = Config.discover(None, env={})
    assert (config.log.level, source) == ("WARNING", str(system))


def test_relative_state_paths_are_read_against_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "o.toml"
    path.write_text('[daemon]\nstate_dir = "state"\n[store]\nsqlite_path = "../data/o.db"\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # not where the file is
    config = Config.load(Path("../etc/o.toml"))
    assert config.daemon.state_dir == tmp_path / "etc" / "state"
    assert config.store.sqlite_path == tmp_path / "data" / "o.db"


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@cache:6379/0",
        "redis://app:hunter2@cache:6379/0",
        "redis://cache:6379/0?password=hunter2",
        "rediss://cache:6379/0?socket_timeout=1&Password=hunter2",
    ],
)
def test_a_redis_url_with_a_password_anywhere_is_refused(tmp_path: Path, url: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[store]\nredis_url = "{url}"\n')
    with pytest.raises(ConfigError, match="must not hold credentials") as caught:
        Config.load(path)
    assert "hunter2" not in str(caught.value)


def test_a_redis_url_with_an_acl_user_name_alone_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[store]\nredis_url = "redis://olactors@cache:6379/0"\n')
    assert Config.load(path).store.redis_url == "redis://olactors@cache:6379/0"


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_duration_of_inf_or_nan_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[store]\ntimeout_s = {value}\n")
    with pytest.raises(ConfigError, match="timeout_s"):
        Config.load(path)


def test_a_dedup_window_shorter_than_a_sources_tolerance_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[webhooks]\ndedup_ttl_s = 60\n"
        '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["S"]\ntolerance_s = 300\n'
    )
    with pytest.raises(ConfigError, match=r"dedup_ttl_s \(60\) must be at least source stripe"):
        Config.load(path)


def test_a_breaker_that_could_never_open_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[providers.stripe]\nbase_url = "https://api.stripe.com"\n'
        "[providers.stripe.breaker]\nwindow_size = 5\nminimum_calls = 10\n"
    )
    with pytest.raises(ConfigError, match="minimum_calls cannot exceed window_size"):
        Config.load(path)


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[log]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match=r"log\.format"):
        Config.load(path)


@pytest.mark.parametrize(
    "section",
    [
        {"server": {"trusted_proxies": ["10.0.0.0/8", "not-a-network"]}},
        {
            "webhooks": {
                "sources": {
                    "s": {"kind": "stripe", "secrets_env": ["S"], "allow_from": ["10.0.0.0/33"]}
                }
            }
        },
    ],
)
def test_a_network_that_does_not_parse_is_refused(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        Config.model_validate(section)


def test_every_secret_the_config_names_is_listed_with_where_it_is_named() -> None:
    config = Config.model_validate(
        {
            "store": {"backend": "redis", "redis_password_env": "REDIS_PW"},
            "webhooks": {
                "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WH1", "WH2"]}},
                "routes": [
                    {
                        "name": "to-app",
                        "source": "stripe",
                        "events": ["*"],
                        "forward_to": "https://app.example/hooks",
                        "signing_secret_env": "APP",
                    }
                ],
            },
        }
    )
    listed = {(s.variable, s.where, s.required) for s in named_secrets(config)}
    assert {
        ("OLACTORS_ADMIN_TOKEN", "admin.token_env", False),
        ("STRIPE_SECRET_KEY", "providers.stripe.secret_env", False),
        ("REDIS_PW", "store.redis_password_env", True),
        ("WH1", "webhooks.sources.stripe.secrets_env", True),
        ("WH2", "webhooks.sources.stripe.secrets_env", True),
        ("APP", "route to-app: signing_secret_env", True),
    } <= listed


def test_reading_an_unset_secret_names_the_variable_and_where_it_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^store\.redis_password_env names REDIS_PW, which"):
        read_secret({"REDIS_PW": ""}, "REDIS_PW", "store.redis_password_env")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"server": {"public_bind": "localhost"}}, "is not host:port"),
        ({"admin": {"bind": ":8081"}}, "is not host:port"),
        ({"admin": {"bind": "::1:8081"}}, "an IPv6 host goes in brackets"),
        ({"server": {"public_bind": "127.0.0.1:http"}}, "the port must be a number"),
        ({"server": {"public_bind": "127.0.0.1:70000"}}, "the port must be a number"),
    ],
)
def test_a_bind_that_would_not_bind_as_written_is_refused(
    section: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Config.model_validate(section)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("0.0.0.0:8081", "http://127.0.0.1:8081"),
        ("[::]:8081", "http://[::1]:8081"),
        ("[::1]:8081", "http://[::1]:8081"),
    ],
)
def test_a_listener_bound_to_every_address_is_reached_on_loopback(bind: str, url: str) -> None:
    assert reach(bind) == url


EXAMPLES = REPO / "config" / "examples"
QUICKSTART_ENV = {
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "a1" * 16,
    "APP_WEBHOOK_SECRET": "whsec_" + "c2VjcmV0IGJ5dGVzIGZvciB0aGUgYXBw",
}


def test_the_quickstart_names_exactly_the_variables_its_header_documents() -> None:
    text = (EXAMPLES / "quickstart.toml").read_text()
    documented = set(re.findall(r"^#   ([A-Z][A-Z0-9_]+) ", text, re.MULTILINE))
    config = Config.load(EXAMPLES / "quickstart.toml")
    assert documented == {s.variable for s in named_secrets(config) if s.required}


def test_the_quickstart_starts_with_only_its_documented_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    assert check_config(EXAMPLES / "quickstart.toml", QUICKSTART_ENV) == 0, capsys.readouterr()


def test_the_webhooks_example_appended_to_the_shipped_file_is_a_valid_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    merged = tmp_path / "olactors.toml"
    shipped = (REPO / "config" / "olactors.toml").read_text()
    merged.write_text(shipped + "\n" + (EXAMPLES / "webhooks.toml").read_text())
    env = {
        "STRIPE_WEBHOOK_SECRET": QUICKSTART_ENV["STRIPE_WEBHOOK_SECRET"],
        "APP_EVENTS_WEBHOOK_SECRET": QUICKSTART_ENV["APP_WEBHOOK_SECRET"],
        "ABACATEPAY_WEBHOOK_SECRET": "abacate-secret-0123456789abcdef",
        "APP_WEBHOOK_SECRET": QUICKSTART_ENV["APP_WEBHOOK_SECRET"],
    }
    assert check_config(merged, env) == 0, capsys.readouterr()


def test_a_default_the_file_leaves_alone_is_read_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "o.toml"
    path.write_text('[store]\nsqlite_path = "o.db"\n')  # state_dir not written
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    config = Config.load(path)
    assert config.store.sqlite_path == tmp_path / "etc" / "o.db"
    assert config.daemon.state_dir == tmp_path / "work" / "var"


@pytest.mark.parametrize("name", ["state", "runs", "conflicts", "orders_staging", "orders_seq"])
def test_a_sync_name_that_would_share_a_table_is_refused(name: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="would share a table"):
        Config.model_validate(
            {"sync": {"syncs": {name: {"source": "stripe", "object": "customers"}}}}
        )


@pytest.mark.parametrize("processes", [0, -1, "many", True, 2.0])
def test_processes_other_than_a_positive_whole_number_or_auto_are_refused(
    processes: object,
) -> None:
    with pytest.raises(ValidationError, match="processes"):
        Config.model_validate({"server": {"processes": processes}})


def test_auto_processes_are_one_per_core_this_process_may_use() -> None:
    config = Config.model_validate({"server": {"processes": "auto"}})
    assert config.server.process_count() == len(os.sched_getaffinity(0))
