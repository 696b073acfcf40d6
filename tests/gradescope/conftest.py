"""Every test here lays out Gradescope's root and grades as a sandbox user (one per xdist worker:
test_autograder.TEST_USER). Each module runs on one worker (`--dist loadgroup`), so that its
module-scoped gradings (the zip, the sandbox user, the correct styles' thirty gradings) are made
once, while two modules may run on the two workers at once."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/gradescope/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group(f"gradescope-{item.path.stem}"))
