"""Issue 12's figures: calls per import and per push (AliExpress, ShopBase, DynamoDB), counted.

    AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled .venv/bin/python bench/product_calls.py

Runs the two counting tests (tests/products: the seller API in-process, moto, both simulators over HTTP), which
assert the counts and print them: AliExpress calls from the simulator's own counters, ShopBase calls from the
ShopBase simulator's per-route counters, DynamoDB requests counted at botocore on the wired tables' clients.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/products/test_import_api.py::test_calls_per_import", "tests/products/test_push.py::test_calls_per_push"]


def main() -> int:
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "-p", "no:cacheprovider",
                          *TESTS], cwd=ROOT, capture_output=True, text=True, check=False)
    for line in run.stdout.splitlines():
        if line.startswith("calls per"):
            print(line)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-2000:], sep="\n", file=sys.stderr)
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
