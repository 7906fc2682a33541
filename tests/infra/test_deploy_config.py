"""infra/samconfig.toml (one section per stage) against infra/template.yaml, and the pre-deploy check that
`make deploy` runs (infra/deploy_config.py)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from infra.deploy_config import PLACEHOLDER, SAMCONFIG, problems, stage_parameters
from local.template import ROOT, load_template

STAGES = ("dev", "prod")
ACCOUNT_SPECIFIC = {"SenderIdentityArn", "AlarmEmail"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    with open(SAMCONFIG, "rb") as handle:
        return tomllib.load(handle)


def filled(config: dict[str, Any], stage: str, **values: str) -> dict[str, Any]:
    """The config with the stage's placeholders replaced (what an operator commits before deploying)."""
    out = copy.deepcopy(config)
    section = out[stage]["deploy"]["parameters"]
    defaults = {"SenderIdentityArn": "arn:aws:ses:us-east-1:123456789012:identity/mail.acme-shop.com",
                "AlarmEmail": "ops@acme-shop.com", **values}
    section["parameter_overrides"] = [
        f"{k}={defaults.get(k, v) if v == PLACEHOLDER or k in values else v}"
        for k, v in (item.split("=", 1) for item in section["parameter_overrides"])]
    return out


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_deploys_its_own_stack_from_the_built_template(config: dict[str, Any], stage: str) -> None:
    section = config[stage]["deploy"]["parameters"]
    assert section["stack_name"] == f"dropship-{stage}" and section["template_file"] == ".aws-sam/build/template.yaml"
    assert section["capabilities"] == "CAPABILITY_IAM" and section["resolve_s3"] is True
    parameters = stage_parameters(config, stage)
    assert parameters is not None and parameters["Stage"] == stage
    assert {k for k, v in parameters.items() if v == PLACEHOLDER} == ACCOUNT_SPECIFIC


@pytest.mark.parametrize("stage", STAGES)
def test_the_committed_placeholders_are_refused_and_a_filled_stage_passes(config: dict[str, Any], stage: str) -> None:
    template = load_template()
    refused = problems(stage, config, template)
    assert sorted(p.split(":")[0] for p in refused) == sorted(ACCOUNT_SPECIFIC)
    assert problems(stage, filled(config, stage), template) == []


def test_wrong_values_are_named(config: dict[str, Any]) -> None:
    template = load_template()
    found = problems("dev", filled(config, "dev", AlarmEmail="nobody", Stage="prod", WebhookConcurrency="0"),
                     template)
    assert any(p.startswith("AlarmEmail:") for p in found)
    assert any(p.startswith("Stage: must be 'dev'") for p in found)
    assert any(p.startswith("WebhookConcurrency: 0 is below 1") for p in found)
    extra = filled(config, "dev")
    extra["dev"]["deploy"]["parameters"]["parameter_overrides"].append("Nonsense=1")
    assert problems("dev", extra, template) == ["Nonsense: not a parameter of infra/template.yaml"]
    assert problems("staging", config, template)[0].startswith("no [staging.deploy.parameters]")


def test_every_required_template_parameter_is_set_per_stage(config: dict[str, Any]) -> None:
    required = {name for name, spec in load_template()["Parameters"].items() if "Default" not in spec}
    assert required == ACCOUNT_SPECIFIC
    for stage in STAGES:
        assert required <= set(stage_parameters(config, stage) or {})


def test_the_check_runs_as_make_deploy_calls_it() -> None:
    done = subprocess.run([sys.executable, "infra/deploy_config.py", "dev"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "SenderIdentityArn: still 'set-me'" in done.stderr
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    deploy = re.search(r"^deploy:.*?(?=^\S)", make, re.M | re.S)
    assert deploy is not None
    steps = deploy.group(0)
    assert steps.index("infra/deploy_config.py $(STAGE)") < steps.index("build-check") < steps.index(
        "deploy --config-file infra/samconfig.toml --config-env $(STAGE)")


def test_make_test_runs_the_template_checks() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    # What `make test` would run (`-n`: printed, not run; the recursive make of the checks prints its own).
    planned = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, check=True).stdout
    for command in ("ruff check", "mypy shared functions", "lint-imports", "cfn-lint infra/template.yaml",
                    "sam validate", "checkov --file", "pytest -q"):
        assert command in planned, command
    assert "validate --lint --template-file infra/template.yaml" in make
    assert re.search(r"checkov --file infra/template\.yaml --framework cloudformation", make)
    assert re.search(r"^checkov==\d+\.\d+\.\d+$", (ROOT / "infra" / "checkov.lock").read_text(), re.M)
