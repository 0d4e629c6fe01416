"""No OAuth token, client secret or vault key shows up in logs, admin answers, metrics
or error messages, through a connect, a refresh, a refused refresh and a rekey."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import trio

from .support import CLIENT_SECRET, KEYS, authorization_server, run_daemon


async def test_no_token_or_key_appears_in_logs_admin_answers_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with authorization_server() as auth, run_daemon(tmp_path, auth) as daemon:
        auth.expires_in = 1
        seen.append(await daemon.connect(auth))
        await daemon.connect(auth, user="7")
        await trio.sleep(0.6)
        # Refreshed; its answer is the one place a token belongs.
        assert (await daemon.call("GET", "/v1/connections/google/42")).status_code == 200
        auth.revoked |= auth.refresh_tokens
        refused = await daemon.call("GET", "/v1/connections/google/7")
        assert refused.status_code == 409
        seen.append(refused.text)
        seen.append(json.dumps(await daemon.admin("POST", "/connections/rekey")))
        for path in ("/actors", "/metrics", "/readyz", "/actors/root/http", "/queues"):
            answer = await daemon.admin_text(path)
            seen.append(answer)
    seen += [caplog.text, *(json.dumps(r.__dict__, default=str) for r in caplog.records)]
    hidden = {
        "client secret": CLIENT_SECRET,
        **{f"key {part[:3]}": part.split(":")[1] for part in KEYS.split(",")},
        **{f"access token {n}": token for n, token in enumerate(auth.issued)},
        **{f"refresh token {n}": token for n, token in enumerate(auth.refresh_tokens)},
    }
    assert len(auth.issued) >= 3  # two connects and a refresh: there was something to leak
    for name, secret in hidden.items():
        leaks = [text for text in seen if secret in text]
        assert not leaks, f"{name} leaked into: {leaks[0][:300]}"
