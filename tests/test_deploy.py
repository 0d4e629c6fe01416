"""The self-hosting kit: the image, the compose file and the systemd unit hold what they say."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from olactors.cli import check_config
from olactors.config import Config, named_secrets

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
TOKEN = {"OLACTORS_ADMIN_TOKEN": "t" * 32, "OLACTORS_API_KEYS": "k" * 32}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def test_the_image_runs_as_an_unprivileged_user_with_a_health_check() -> None:
    users = re.findall(r"^USER (\S+)", dockerfile(), re.MULTILINE)
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*127\.0\.0\.1:8081/healthz", dockerfile(), re.MULTILINE)


def test_everything_the_image_copies_is_in_the_repository() -> None:
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile(), re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert (REPO / source).exists(), source


def test_the_image_configuration_starts_with_only_the_admin_token_and_api_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check_config(REPO / "config" / "container.toml", TOKEN) == 0, capsys.readouterr()


def test_the_image_refuses_to_expose_its_admin_without_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check_config(REPO / "config" / "container.toml", {}) == 1
    assert "OLACTORS_ADMIN_TOKEN: admin token" in capsys.readouterr().err


def test_the_compose_replicas_share_one_redis_that_fsyncs_every_write(
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = compose()["services"]
    command = services["redis"]["command"]
    assert command[command.index("--appendfsync") + 1] == "always"
    assert services["olactors"]["deploy"]["replicas"] == 2
    config = Config.load(DEPLOY / "compose.toml")
    assert (config.store.backend, config.store.redis_url) == ("redis", "redis://redis:6379/0")
    env = TOKEN | {
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "a1" * 16,
        "OLACTORS_SUBSCRIBER_KEY": "s" * 32,
    }
    assert check_config(DEPLOY / "compose.toml", env) == 0, capsys.readouterr()


def test_the_compose_file_names_every_variable_its_config_needs_in_its_env_example() -> None:
    example = (DEPLOY / "env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    config = Config.load(DEPLOY / "compose.toml")
    assert {s.variable for s in named_secrets(config) if s.required} <= listed


def test_only_the_load_balancer_is_public_and_the_admin_is_on_loopback() -> None:
    services = compose()["services"]
    published = {name: s.get("ports", []) for name, s in services.items()}
    assert published["lb"] == ["8080:8080"]
    assert published["admin"] == ["127.0.0.1:8081:8081"]
    assert published["olactors"] == published["redis"] == []


def test_a_stop_outlasts_the_daemons_orderly_shutdown() -> None:
    limit = Config.load(DEPLOY / "compose.toml").daemon.shutdown_timeout_s
    grace = compose()["services"]["olactors"]["stop_grace_period"]
    assert float(grace.removesuffix("s")) > limit
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "olactors.service").read_text())
    assert float(unit["Service"]["TimeoutStopSec"]) > Config().daemon.shutdown_timeout_s
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Service"]["ExecStart"].endswith("olactors run")
    assert unit["Service"]["RestartPreventExitStatus"] == "2"  # a configuration error
