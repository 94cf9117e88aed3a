"""Pass/fail lines and counts for the Python test drivers (tests/test_cli.py and
tests/plugin/run_plugin_tests.py): one line per check, ok or FAIL with the detail."""
import sys

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


def summary():
    """Print the totals; the exit status for them (0 all passed, 1 something failed)."""
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
