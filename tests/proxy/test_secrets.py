"""No user token or API key the proxy sends shows up in logs, admin answers, metrics
or the app's error answers, through calls, a refused token, its refresh and failures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from olactors.testing import Canned

from .support import ENV, proxied


async def test_no_token_or_api_key_the_proxy_sends_appears_anywhere_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with proxied(tmp_path) as rig:
        daemon = rig.daemon
        await daemon.connect(rig.auth)
        await daemon.connect(rig.auth, "instagram")
        rig.google(Canned(200, json={"files": []}))
        rig.refused.add(rig.auth.issued[-1])  # refused once: refreshed, called again
        rig.api.route("/v21.0/me/media", Canned(500, json={"error": {"code": 2}}))
        rig.api.route("/v1/customers", Canned(401, json={"error": {"type": "invalid_request"}}))
        calls = [
            ("GET", "/v1/proxy/google/drive/v3/files", "42"),
            ("GET", "/v1/proxy/instagram/me/media?fields=id", "42"),
            ("GET", "/v1/proxy/stripe/v1/customers", None),
            ("POST", "/v1/proxy/sendgrid/v3/mail/send", None),
        ]
        for method, path, user in calls:
            answer = await rig.proxy(method, path, user=user)
            if "olactors-provider" not in answer.headers:  # ours, not the provider's
                seen.append(answer.text)
        instagram = await daemon.call("GET", "/v1/connections/instagram/42")
        tokens = [*rig.auth.issued, instagram.json()["access_token"]]
        for path in ("/actors", "/metrics", "/readyz", "/actors/root/resilience"):
            seen.append(await daemon.admin_text(path))
    assert len(seen) >= 5  # the stripe refusal in our shape, and the admin's answers
    seen += [caplog.text, *(json.dumps(r.__dict__, default=str) for r in caplog.records)]
    hidden = {**ENV, **{f"access token {n}": token for n, token in enumerate(tokens)}}
    for name, secret in hidden.items():
        leaks = [text[max(0, text.index(secret) - 600) :] for text in seen if secret in text]
        assert not leaks, f"{name} leaked into: {leaks[0][:300]}"
