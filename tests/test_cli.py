"""The olactors command, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def olactors(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLACTORS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "olactors", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_running(process: subprocess.Popen[str]) -> list[str]:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "olactors running" in line:
            return seen
    raise AssertionError(f"olactors exited before running: {''.join(seen)}")


def test_help_lists_the_run_command(tmp_path: Path) -> None:
    process = olactors("--help", cwd=tmp_path)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "run" in out


def config_on_a_free_port(tmp_path: Path) -> Path:
    text = (REPO / "config" / "olactors.toml").read_text()
    path = tmp_path / "olactors.toml"
    text = text.replace('public_bind = "127.0.0.1:8080"', 'public_bind = "127.0.0.1:0"')
    text = text.replace('bind = "127.0.0.1:8081"', 'bind = "127.0.0.1:0"')
    text = text.replace('bind = "127.0.0.1:8082"', 'bind = "127.0.0.1:0"')
    # The shipped file keeps state in the repository's var/ ("../var" from
    # config/); this copy keeps it beside itself.
    path.write_text(text.replace('"../var', '"var'))
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly_on_a_stop_signal(tmp_path: Path, signum: signal.Signals) -> None:
    process = olactors("run", "--config", str(config_on_a_free_port(tmp_path)), cwd=tmp_path)
    try:
        wait_until_running(process)
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"{signum.name} received: stopping in order" in err
    assert "olactors stopped cleanly" in err


def test_without_config_the_embedded_defaults_keep_state_under_the_working_directory(
    tmp_path: Path,
) -> None:
    process = olactors("check-config", cwd=tmp_path)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "configuration: embedded defaults" in out
    assert f"store: sqlite ({tmp_path / 'var' / 'olactors.db'})" in out
    assert f"state directory: {tmp_path / 'var'}" in out


def test_run_names_every_missing_variable_at_once_and_exits_2(tmp_path: Path) -> None:
    path = config_on_a_free_port(tmp_path)
    with path.open("a") as file:
        file.write(
            '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["WHSEC_A", "WHSEC_B"]\n'
        )
    process = olactors("run", "--config", str(path), cwd=tmp_path)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "2 variable(s) not set" in err
    assert "WHSEC_A: webhook source stripe" in err
    assert "WHSEC_B: webhook source stripe" in err


def test_a_port_in_use_is_named_with_its_config_key(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        path = config_on_a_free_port(tmp_path)
        path.write_text(
            path.read_text().replace(
                'public_bind = "127.0.0.1:0"', f'public_bind = "127.0.0.1:{port}"'
            )
        )
        process = olactors("run", "--config", str(path), cwd=tmp_path)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert (
        f"the public listener cannot listen on 127.0.0.1:{port} (server.public_bind): "
        "address already in use" in err
    )


def test_run_with_a_missing_config_exits_2_and_says_why(tmp_path: Path) -> None:
    process = olactors("run", "--config", "nowhere.toml", cwd=tmp_path)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "configuration error: nowhere.toml: no such file" in err


def test_check_config_says_what_it_binds_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    assert check_config(REPO / "config" / "olactors.toml", {}) == 0
    out = capsys.readouterr().out
    assert "public listener: 127.0.0.1:8080" in out
    assert "admin listener: 127.0.0.1:8081" in out
    assert "not set: OLACTORS_ADMIN_TOKEN (admin token)" in out
    assert "ok: the daemon can start" in out


def test_check_config_names_a_missing_webhook_secret_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    path = tmp_path / "c.toml"
    path.write_text('[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["WHSEC"]\n')
    assert check_config(path, {"WHSEC": ""}) == 1
    captured = capsys.readouterr()
    assert "missing: WHSEC (webhook source stripe)" in captured.out
    assert "WHSEC: webhook source stripe (named by webhooks.sources.stripe.secrets_env)" in (
        captured.err
    )


def test_check_config_reports_an_invalid_file_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    path = tmp_path / "c.toml"
    path.write_text("[store]\nbackend = 'mongo'\n")
    assert check_config(path, {}) == 1
    assert "store.backend" in capsys.readouterr().err


def test_check_config_never_prints_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    path = tmp_path / "c.toml"
    path.write_text(
        '[admin]\nbind = "127.0.0.1:0"\ntoken_env = "ADMIN"\n'
        '[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["WHSEC"]\n'
    )
    assert (
        check_config(
            path,
            {
                "WHSEC": "whsec_TOPSECRET0123456789abcdefABCD",
                "ADMIN": "admin-TOPSECRET-0123456789abc",
            },
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "TOPSECRET" not in captured.out + captured.err


def test_check_config_reports_as_json_with_every_secret_and_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.cli import check_config

    path = tmp_path / "c.toml"
    path.write_text('[webhooks.sources.stripe]\nkind = "stripe"\nsecrets_env = ["WHSEC"]\n')
    assert check_config(path, {}, as_json=True) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["sources"] == {"stripe": {"kind": "stripe", "path": "/webhooks/stripe"}}
    [whsec] = [s for s in report["secrets"] if s["variable"] == "WHSEC"]
    assert whsec == {
        "variable": "WHSEC",
        "for": "webhook source stripe",
        "named_by": "webhooks.sources.stripe.secrets_env",
        "required": True,
        "set": False,
    }
    assert report["error"].startswith("1 variable(s) not set")
