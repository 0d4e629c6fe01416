"""The daemon's log lines: JSON objects a log shipper can parse, with context."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from olactors import logs


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    # configure() rewires process-wide loggers: give the other tests theirs back.
    saved = []
    for name in ("olactors", "hypercorn.error"):
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _fail() -> None:
    raise ValueError("boom")


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line]


@pytest.mark.usefixtures("restored_loggers")
def test_json_format_writes_one_object_per_line_with_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO", "json")
    logging.getLogger("olactors.webhooks").error(
        "stripe event %s dead-lettered", "evt_1", extra={"source": "stripe", "event_id": "evt_1"}
    )
    (entry,) = _lines(capsys.readouterr().err)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "olactors.webhooks"
    assert entry["source"] == "stripe"
    assert entry["event_id"] == "evt_1"
    assert entry["message"] == "stripe event evt_1 dead-lettered"
    assert "actor" not in entry


@pytest.mark.usefixtures("restored_loggers")
def test_json_format_keeps_a_traceback_inside_the_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO", "json")
    try:
        _fail()
    except ValueError:
        logging.getLogger("olactors.runtime").exception(
            "/root/x crashed", extra={"actor": "/root/x"}
        )
    (entry,) = _lines(capsys.readouterr().err)
    assert entry["actor"] == "/root/x"
    assert "ValueError: boom" in str(entry["exc"])


@pytest.mark.usefixtures("restored_loggers")
def test_text_format_names_the_actor_in_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "text")
    logging.getLogger("olactors.runtime").warning("slow", extra={"actor": "/root/store"})
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert "olactors.runtime [/root/store]: slow" in err


@pytest.mark.usefixtures("restored_loggers")
def test_auto_format_writes_json_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO", "auto")  # pytest's captured stderr is not a terminal
    logging.getLogger("olactors").info("hello")
    (entry,) = _lines(capsys.readouterr().err)
    assert entry["message"] == "hello"


@pytest.mark.usefixtures("restored_loggers")
def test_records_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("WARNING", "json")
    logging.getLogger("olactors").info("quiet")
    assert capsys.readouterr().err == ""
