"""Check what `sam build` produced: every function artifact is self-contained for python3.13/arm64.

Usage: python infra/check_artifacts.py .aws-sam/build
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.template import load_template, resources_of_type

REQUIRED_PACKAGES = ("aws_lambda_powertools", "pydantic", "requests", "nh3")


def check_function(build_dir: Path, logical_id: str, handler: str) -> list[str]:
    root = build_dir / logical_id
    problems: list[str] = []
    if not root.is_dir():
        return [f"{logical_id}: no artifact at {root}"]
    module_path = root / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    if not module_path.is_file():
        problems.append(f"{logical_id}: handler module {module_path.relative_to(build_dir)} missing")
    for must in ("shared/__init__.py", "shared/models/order.py", "shared/lifecycle.py", "functions/__init__.py"):
        if not (root / must).is_file():
            problems.append(f"{logical_id}: {must} missing (shared/ was dropped)")
    if logical_id == "SellerApiFunction":  # the Manage Orders page is served from the artifact's own files
        for page_file in ("index.html", "app.js", "app.css"):
            if not (root / "functions" / "seller_api" / "page" / page_file).is_file():
                problems.append(f"{logical_id}: functions/seller_api/page/{page_file} missing")
    for package in REQUIRED_PACKAGES:
        if not (root / package).is_dir():
            problems.append(f"{logical_id}: dependency {package} missing")
    natives = list(root.glob("pydantic_core/_pydantic_core.*.so"))
    if not natives or not all("cpython-313-aarch64-linux-gnu" in so.name for so in natives):
        names = [p.name for p in natives]
        problems.append(f"{logical_id}: pydantic_core is not built for cpython-313 aarch64: {names}")
    if list(root.rglob("__pycache__")):
        problems.append(f"{logical_id}: stray __pycache__ folders")
    if (root / "tests").exists() or (root / ".venv").exists():
        problems.append(f"{logical_id}: tests or a virtualenv leaked into the artifact")
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    if size > 250 * 1024 * 1024:
        problems.append(f"{logical_id}: {size} bytes unzipped, above Lambda's 250 MB")
    print(f"{logical_id}: {size / 1024 / 1024:.1f} MB unzipped, handler {handler}")
    return problems


def main(build_dir: str) -> int:
    template = load_template()
    functions = resources_of_type(template, "AWS::Serverless::Function")
    problems: list[str] = []
    for logical_id, resource in functions.items():
        problems += check_function(Path(build_dir), logical_id, resource["Properties"]["Handler"])
    for problem in problems:
        print(f"PROBLEM {problem}")
    print(f"{len(functions)} functions checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build"))
