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


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def limiter_over(collected: Collected, now: list[float]) -> logging.Logger:
    logger = logging.getLogger("olactors.test.repeats")
    logger.handlers[:] = [logs.RepeatLimiter(collected, window_s=10.0, clock=lambda: now[0])]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def refuse(logger: logging.Logger, n: int) -> None:
    logger.error("webhook %s not stored, answering 503", f"evt_{n}")


def test_an_error_repeated_during_an_outage_is_one_line_and_then_a_count() -> None:
    collected, now = Collected(), [0.0]
    logger = limiter_over(collected, now)
    for n in range(1682):
        refuse(logger, n)
        now[0] += 0.005  # 1,682 refusals in about 8 s
    now[0] = 12.0
    refuse(logger, 9999)
    assert collected.lines == [
        "webhook evt_0 not stored, answering 503",
        "webhook evt_1681 not stored, answering 503 (and 1681 more like it within 10 s)",
        "webhook evt_9999 not stored, answering 503",
    ]


def test_the_count_of_a_burst_that_ended_is_told_when_anything_else_is_logged() -> None:
    collected, now = Collected(), [0.0]
    logger = limiter_over(collected, now)
    for n in range(3):
        refuse(logger, n)
    now[0] = 11.0
    logger.info("store reachable again")
    assert collected.lines == [
        "webhook evt_0 not stored, answering 503",
        "webhook evt_2 not stored, answering 503 (and 2 more like it within 10 s)",
        "store reachable again",
    ]


def test_different_errors_and_info_lines_are_never_folded() -> None:
    collected, now = Collected(), [0.0]
    logger = limiter_over(collected, now)
    logger.error("first problem")
    logger.error("second problem")
    logger.info("progress %d", 1)
    logger.info("progress %d", 2)
    assert collected.lines == ["first problem", "second problem", "progress 1", "progress 2"]


def test_the_daemons_log_folds_repeats(restored_loggers: None) -> None:
    logs.configure("INFO", "json")
    [handler] = logging.getLogger("olactors").handlers
    assert isinstance(handler, logs.RepeatLimiter)


def test_hypercorn_errors_are_written_by_the_daemons_formatter(
    restored_loggers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from olactors.http import hypercorn_config

    logs.configure("INFO", "json")
    config = hypercorn_config("127.0.0.1:0", 1.0, 1.0)
    try:
        _fail()
    except ValueError:
        config.log.error_logger.exception("Error in ASGI Framework")  # type: ignore[union-attr]
    [line] = capsys.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert (entry["logger"], entry["level"]) == ("hypercorn.error", "ERROR")
    assert "ValueError: boom" in entry["exc"]


def test_the_same_line_for_two_actors_is_two_bursts() -> None:
    collected, now = Collected(), [0.0]
    logger = limiter_over(collected, now)
    for path in ("/root/a", "/root/b", "/root/a"):
        logger.error("actor %s crashed", path, extra={"actor": path})
    assert collected.lines == ["actor /root/a crashed", "actor /root/b crashed"]
