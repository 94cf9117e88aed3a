"""Pass/fail lines and counts for the Python test drivers (tests/test_cli.py and
tests/plugin/run_plugin_tests.py): one line per check, ok or FAIL with the detail."""
import os
import sys

ALLOW_MISSING_DATA = "IMPASTO_ALLOW_MISSING_DATA"

passed = 0
failed = 0


def check(name, ok, detail=""):
    """Count and print one check; returns ok."""
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   - {name}" + (f" ({detail})" if detail else ""))
    else:
        failed += 1
        print(f"FAIL - {name}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return ok


def missing_data(what):
    """The exit status for a test whose data is missing: a failure naming it, or a skip (77)
    when IMPASTO_ALLOW_MISSING_DATA=1."""
    if os.environ.get(ALLOW_MISSING_DATA) == "1":
        print(f"SKIP: missing test data: {what} ({ALLOW_MISSING_DATA}=1)")
        return 77
    print(f"FAIL: missing test data: {what} (see README.md; {ALLOW_MISSING_DATA}=1 skips instead)")
    return 1


def missing_tool(what):
    """The exit status for a test whose tool or module is missing: always a failure (meson
    registers a test only where its tools were found)."""
    print(f"FAIL: missing tool: {what}")
    return 1


def summary():
    """Print the totals; the exit status for them (0 all passed, 1 something failed)."""
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
