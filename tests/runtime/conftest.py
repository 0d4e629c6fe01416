import pytest

from .support import Journal


@pytest.fixture
def journal() -> Journal:
    return Journal()
