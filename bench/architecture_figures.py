"""Issue 9's figures for the code's shape, printed from the tree as it is (run from the repo root).

    .venv/bin/python bench/architecture_figures.py

- largest file in shared/ (lines);
- modules an order's path imports: the project modules the four handlers on the path (webhook → sync
  worker → tracking push → customer email) import, directly or not (grimp, type-only imports excluded);
- files to open to follow an order from webhook to email: those the path table of docs/architecture.md
  names (its section "The path of one order, file by file"), each once;
- `duplicates` pairs with neither side under tests/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ["functions.webhook_order.app", "functions.sync_worker.app", "functions.push_tracking.app",
            "functions.notify_customer.app"]


def largest_shared_file() -> tuple[str, int]:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / "shared").rglob("*.py")}
    name = max(sizes, key=lambda k: sizes[k])
    return name, sizes[name]


def imported_modules() -> int:
    import grimp

    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("shared", "functions", exclude_type_checking_imports=True)
    seen: set[str] = set()
    for handler in HANDLERS:
        seen |= graph.find_upstream_modules(handler) | {handler}
    return len({m for m in seen if not m.endswith("__init__")})


def files_on_the_order_path() -> list[str]:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## The path of one order", 1)[1].split("\n## ", 1)[0]
    # A name without a folder ("sync_status_map.py") is a sibling of the file named before it on its line.
    files: list[str] = []
    for line in section.splitlines():
        folder = ""
        for name in re.findall(r"`([\w/]+\.py)`", line):
            if "/" in name:
                folder = name.rsplit("/", 1)[0]
            elif folder:
                name = f"{folder}/{name}"
            if name not in files:
                files.append(name)
    missing = [name for name in files if not (ROOT / name).is_file()]
    if missing:
        raise SystemExit(f"docs/architecture.md names files that do not exist: {missing}")
    return files


def duplicate_pairs_outside_tests() -> int | None:
    if shutil.which("duplicates") is None:
        return None
    out = subprocess.run(["duplicates", "--most", "200", "--seconds", "60"], cwd=ROOT, capture_output=True,
                         text=True, check=False).stdout
    rows = [line for line in out.splitlines() if line.startswith("D")]
    return sum(1 for row in rows if "tests/" not in row)


def main() -> None:
    name, lines = largest_shared_file()
    print(f"largest file in shared/: {name} ({lines} lines)")
    print(f"modules imported by the order path's four handlers: {imported_modules()}")
    print(f"files to follow an order (docs/architecture.md's path table): {len(files_on_the_order_path())}")
    pairs = duplicate_pairs_outside_tests()
    print(f"duplicates pairs outside tests/: {pairs if pairs is not None else 'n/a (duplicates not on PATH)'}")


if __name__ == "__main__":
    main()
