"""Black-box tests of cairn's monitoring commands: shared fixtures.

`cairn` runs the binary ($CAIRN_BIN, default build/asan/cairn) and fails the test on any
sanitizer report; `fixtures` is the anchor fixture folder (../shared/anchors/monitoring/fixtures
beside the repository), skipped when absent.
"""

import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "anchors", "monitoring", "fixtures")
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"UndefinedBehaviorSanitizer")


def cairn_bin():
    b = os.environ.get("CAIRN_BIN", "build/asan/cairn")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


class Result:
    def __init__(self, argv, proc):
        self.argv, self.rc, self.out, self.err = argv, proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return f"<{' '.join(self.argv)} rc={self.rc}\n--stdout--\n{self.out}\n--stderr--\n{self.err}>"


def run_cairn(*args, cwd=None, input=None, timeout=120):
    argv = [cairn_bin(), *map(str, args)]
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, input=input, timeout=timeout,
                       stdin=None if input is not None else subprocess.DEVNULL)
    assert not SANITIZER.search(p.stderr), f"sanitizer report:\n{p.stderr}"
    return Result(argv, p)


@pytest.fixture(scope="session", autouse=True)
def _binary():
    if not os.access(cairn_bin(), os.X_OK):
        pytest.exit(f"cairn binary {cairn_bin()} not found (build it or set CAIRN_BIN)", returncode=3)


@pytest.fixture
def cairn():
    return run_cairn


@pytest.fixture(scope="session")
def fixtures():
    if not os.path.isdir(FIXTURES):
        if os.environ.get("CI") == "true":
            pytest.fail(f"anchor fixtures not found at {FIXTURES} (CI=true: they must be there)")
        pytest.skip(f"anchor fixtures not found at {FIXTURES}")
    return FIXTURES
