"""Cold start: a fresh process importing each function's handler, side by side with `import boto3`.

    .venv/bin/python bench/cold_import.py --rounds 7

For every function of infra/template.yaml, in fresh Python processes started alike and interleaved (so a busy
machine slows both sides the same), the wall time of `import boto3` and of `import <handler module>` (which
imports boto3 too), each measured inside the child with perf_counter. Two environments:

- template: the function's environment from the template (Globals merged, references as placeholders);
- lambda-like: the same plus what Lambda sets that these imports read: AWS_LAMBDA_FUNCTION_NAME (Powertools' tracer
  is on, as on Lambda with tracing active) and LAMBDA_TASK_ROOT (the X-Ray SDK's test for Lambda: without it the
  SDK builds the sampler of a server, two botocore X-Ray clients, which it never does on Lambda).

Prints per function the median of each and the ratio of the medians (goal ≤ 1.5, aim 1.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.template import function_specs, load_template  # noqa: E402

TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def environment(spec_env: dict[str, Any], lambda_like: bool, name: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "", "PYTHONPATH": str(ROOT)}
    for key, value in spec_env.items():
        env[key] = value if isinstance(value, str) else f"placeholder-{key.lower()}"
    if lambda_like:
        env.update(AWS_LAMBDA_FUNCTION_NAME=name, AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
                   AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR", LAMBDA_TASK_ROOT=str(ROOT))
    return env


def timed(module: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", TIMER.format(module=module)], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    specs = function_specs(load_template())
    print(f"cold import, {args.rounds} rounds, load {os.getloadavg()[0]:.2f}")
    print(f"  {'function':30s} {'env':12s} {'boto3 s':>8s} {'handler s':>9s} {'ratio':>6s}")
    worst: dict[str, float] = {}
    for spec in specs:
        module = spec.handler.rsplit(".", 1)[0]
        for lambda_like in (False, True):
            env = environment(spec.environment, lambda_like, spec.logical_id)
            timed(module, env)  # the first run writes bytecode caches: not a cold start of a deployed function
            boto3_times, handler_times = [], []
            for _ in range(args.rounds):
                boto3_times.append(timed("boto3", env))
                handler_times.append(timed(module, env))
            ratio = statistics.median(handler_times) / statistics.median(boto3_times)
            label = "lambda-like" if lambda_like else "template"
            worst[label] = max(worst.get(label, 0.0), ratio)
            print(f"  {spec.logical_id:30s} {label:12s} {statistics.median(boto3_times):8.3f} "
                  f"{statistics.median(handler_times):9.3f} {ratio:6.2f}")
    print("  worst ratio: " + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
