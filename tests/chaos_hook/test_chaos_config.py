"""``[chaos]``: off by default, and refused on a daemon other hosts can reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from olactors.config import ChaosConfig, Config, ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_the_chaos_section_is_disabled_by_default() -> None:
    assert Config().chaos == ChaosConfig(enabled=False)
    assert Config.load(REPO / "config" / "olactors.toml").chaos.enabled is False


@pytest.mark.parametrize(
    ("section", "key", "bind"),
    [
        ("server", "public_bind", "0.0.0.0:8080"),
        ("api", "bind", "[::]:8082"),
        ("admin", "bind", "192.0.2.10:8081"),
    ],
)
def test_enabled_chaos_with_a_listener_beyond_loopback_is_refused(
    tmp_path: Path, section: str, key: str, bind: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[chaos]\nenabled = true\n[{section}]\n{key} = "{bind}"\n')
    with pytest.raises(ConfigError) as refused:
        Config.load(path)
    message = str(refused.value)
    assert f"{section}.{key} = {bind}" in message
    assert "chaos.enabled" in message
    assert "refused beyond loopback" in message


def test_a_listener_beyond_loopback_is_fine_while_chaos_is_off(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[chaos]\nenabled = false\n[server]\npublic_bind = "0.0.0.0:8080"\n')
    assert Config.load(path).server.public_bind == "0.0.0.0:8080"


def test_enabled_chaos_on_loopback_names_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[chaos]\nenabled = true\ncrash_every_s = 0\n"
        '[server]\npublic_bind = "localhost:8080"\n[api]\nbind = "[::1]:8082"\n'
    )
    config = Config.load(path)
    assert (config.chaos.enabled, config.chaos.crash_every_s) == (True, 0.0)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("targets", '["root/delivery/*"]', "not an actor path pattern"),
        ("targets", '["/root/delivery/"]', "not an actor path pattern"),
        ("crash_every_s", "-1.0", "greater than or equal to 0"),
    ],
)
def test_a_bad_chaos_setting_is_refused_with_its_place(
    tmp_path: Path, key: str, value: str, problem: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[chaos]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"chaos\.{key}.*{problem}"):
        Config.load(path)
