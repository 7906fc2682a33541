"""Check a stage of infra/samconfig.toml before `sam deploy` uses it (`make deploy STAGE=<stage>` runs this).

Usage: python infra/deploy_config.py <stage> [samconfig.toml]

Refuses (exit 2, one line per problem) a stage with no section, a value still "set-me", a parameter the
template does not have, a required template parameter left out, a value its AllowedPattern/MinValue/MaxValue
refuses, or a `Stage` other than the section's name (two stages must never share secret names).
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.template import TEMPLATE_PATH, load_template

SAMCONFIG = Path(__file__).resolve().parent / "samconfig.toml"
PLACEHOLDER = "set-me"


def stage_parameters(config: dict[str, Any], stage: str) -> dict[str, str] | None:
    """The stage's parameter_overrides as a dict; None when the stage has no deploy section."""
    section = config.get(stage, {}).get("deploy", {}).get("parameters")
    if section is None:
        return None
    raw = section.get("parameter_overrides", [])
    items = raw if isinstance(raw, list) else shlex.split(raw)
    return dict(str(item).split("=", 1) for item in items)


def problems(stage: str, config: dict[str, Any], template: dict[str, Any]) -> list[str]:
    found = stage_parameters(config, stage)
    if found is None:
        known = sorted(name for name, sections in config.items() if isinstance(sections, dict) and "deploy" in sections)
        return [f"no [{stage}.deploy.parameters] in samconfig.toml (stages: {', '.join(known) or 'none'})"]
    declared = template.get("Parameters", {})
    out: list[str] = []
    for name, value in found.items():
        spec = declared.get(name)
        if spec is None:
            out.append(f"{name}: not a parameter of infra/template.yaml")
            continue
        if value == PLACEHOLDER:
            out.append(f"{name}: still {PLACEHOLDER!r}: set it in [{stage}.deploy.parameters] (docs/deploy.md)")
            continue
        out += _value_problems(name, value, spec)
    for name, spec in declared.items():
        if "Default" not in spec and name not in found:
            out.append(f"{name}: required (the template has no default): add it to [{stage}.deploy.parameters]")
    if found.get("Stage", declared.get("Stage", {}).get("Default")) != stage:
        out.append(f"Stage: must be {stage!r} in [{stage}.deploy.parameters] (it names the stage's secrets)")
    return out


def _value_problems(name: str, value: str, spec: dict[str, Any]) -> list[str]:
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        return [f"{name}: {value!r} does not match {pattern}"]
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [f"{name}: {value!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return [f"{name}: {value} is below {spec['MinValue']}"]
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return [f"{name}: {value} is above {spec['MaxValue']}"]
    return []


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) > 1 else SAMCONFIG
    with open(path, "rb") as handle:
        config = tomllib.load(handle)
    found = problems(argv[0], config, load_template(TEMPLATE_PATH))
    for problem in found:
        print(f"{path.name} [{argv[0]}]: {problem}", file=sys.stderr)
    return 2 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
