"""docker-compose.yml is valid: `docker compose config` where Docker runs, else the schema."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT


def compose_schema() -> dict[str, object]:
    """The compose-spec schema vendored by check-jsonschema (read without importing it)."""
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[dev]'"
    base = Path(next(iter(spec.submodule_search_locations)))
    schema: dict[str, object] = json.loads(
        (base / "builtin_schemas" / "vendor" / "compose-spec.json").read_text())
    return schema


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    return probe.returncode == 0


def test_compose_file_is_valid() -> None:
    path = ROOT / "docker-compose.yml"
    if docker_compose_works():
        result = subprocess.run(["docker", "compose", "-f", str(path), "config", "-q"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return
    document = yaml.safe_load(path.read_text())
    jsonschema.validate(document, compose_schema())
    assert document["services"]["redis"]["command"][1:3] == ["--appendonly", "yes"]
    assert {"feeds", "agents"} <= set(document["services"])


def test_the_schema_check_can_fail() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"services": {"x": {"image": 3, "bogus": True}}}, compose_schema())


def test_every_crosscurrent_service_runs_a_command_the_cli_takes() -> None:
    from crosscurrent.cli import build_parser

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ours = {name: spec for name, spec in services.items() if "build" in spec}
    assert {"feeds", "agents", "pipeline", "workers"} <= set(ours)
    assert all(services[n]["profiles"] == ["scale"] for n in ("redpanda", "pipeline", "workers"))
    parser = build_parser()
    for name, spec in ours.items():
        args = parser.parse_args(spec["command"])  # exits (fails the test) if it does not parse
        assert args.command in ("run", "worker"), name
