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


@pytest.fixture(autouse=True, scope="session")
def merged_models_in_a_temporary_cache(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """`chat` merges a run's adapter into its base once and caches the result (hundreds of MB for
    the default model): tests keep those in a folder of their own, never in the user's cache."""
    from chatclone.chat import merged

    folder = tmp_path_factory.mktemp("merged-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(merged, "cache_root", lambda: folder)
        yield
