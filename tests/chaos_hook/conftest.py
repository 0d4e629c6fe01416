import pytest

from ..runtime.support import Journal


@pytest.fixture
def journal() -> Journal:
    return Journal()
