import pytest

from deploy.inventory import load_inventory
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def default_inventory():
    return load_inventory(ROOT / "inventory.yaml", check_keys=False)
