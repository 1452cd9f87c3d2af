import os
from pathlib import Path

import pytest

import images


def pytest_configure(config):
    # Registered here too, so these tests run before the suite's pytest.ini lists the marker.
    config.addinivalue_line("markers", "images: builds and boots guest images on this machine (root, minutes)")


@pytest.fixture(scope="session")
def image_cache() -> Path:
    """The same cache as `python -m images` (IMAGES_CACHE overrides): built images survive runs."""
    return images.DEFAULT_CACHE


@pytest.fixture(scope="session")
def root_only():
    if os.geteuid() != 0:
        pytest.skip("building guest images installs host tools and (debian) runs debootstrap: needs root")
