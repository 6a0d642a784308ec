import pathlib
import sys

import pykka
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def config_path() -> pathlib.Path:
    return ROOT / "config.toml"


@pytest.fixture(autouse=True)
def _no_stray_actors():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
