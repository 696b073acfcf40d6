"""Every test here lays out Gradescope's root and (as root) creates its sandbox user: with
pytest-xdist (`--dist loadgroup`) they all run on one worker, never two user setups at once."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/gradescope/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("gradescope"))
