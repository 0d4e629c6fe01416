"""The app API against its own OpenAPI document, by schemathesis, over real HTTP.

A real ``olactors run`` process serves it; schemathesis generates requests
from the document (valid ones and invalid ones) and checks every answer: no
5xx, every answer in the document's schema and status codes, invalid data
refused (valid data may still be refused for what it means). A fixed seed
keeps it the same run each time (the short profile: 50 examples an operation).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

KEY = "app-key-for-schemathesis-0123456789"


def test_the_live_app_api_keeps_to_its_own_document(tmp_path: Path) -> None:
    config = tmp_path / "olactors.toml"
    config.write_text(
        '[daemon]\nstate_dir = "state"\n[store]\nsqlite_path = "o.db"\n'
        '[server]\npublic_bind = "127.0.0.1:0"\n[admin]\nbind = "127.0.0.1:0"\n'
        '[api]\nbind = "127.0.0.1:0"\n[log]\nformat = "text"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLACTORS_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "olactors", "run", "--config", str(config)],
        env=env | {"OLACTORS_API_KEYS": KEY},
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        url = api_url(daemon)
        checked = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/v1/openapi.json",
                "--checks",
                "all",
                # A request of a valid shape may still be refused for what it
                # means (an endpoint whose host does not resolve, a channel
                # that is not configured): a 422 by design, not a defect.
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                "50",
                "--seed",
                "1",
                "--header",
                f"Authorization: Bearer {KEY}",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
            check=False,
        )
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert re.search(r"\d+ generated, \d+ passed", checked.stdout), checked.stdout[-2000:]


def api_url(daemon: subprocess.Popen[str]) -> str:
    assert daemon.stderr is not None
    seen = []
    for line in daemon.stderr:
        seen.append(line)
        found = re.search(r"api listener on (http://[0-9.:]+)", line)
        if found:
            # Keep reading what it logs (a line per request), so its pipe never fills.
            threading.Thread(target=daemon.stderr.read, daemon=True).start()
            return found.group(1)
    raise AssertionError(f"the daemon exited before its app API listened: {''.join(seen)}")
