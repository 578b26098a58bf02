import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets this machine's time zone (TZ) for one test, and restores it after: the parsers that
    show instants in the machine's zone are tested in a zone the test names."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset (POSIX)")

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()
