"""What the edge's errors turn into on the wire."""

from __future__ import annotations

import pytest

from olactors.http import retry_after


@pytest.mark.parametrize(("seconds", "header"), [(5.0, b"5"), (0.2, b"1"), (2.01, b"3"), (0, b"1")])
def test_retry_after_is_whole_seconds_rounded_up_and_never_zero(
    seconds: float, header: bytes
) -> None:
    assert retry_after(seconds) == (b"retry-after", header)
