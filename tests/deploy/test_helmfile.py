"""helmfile.yaml stays true to the chart: one release per role, values files that exist for
every environment, the documents' ports, and every release renders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from certplatform.roles import ROLE_PORTS, Role

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "infra" / "helm"


def helmfile() -> tuple[list[str], list[dict[str, Any]]]:
    environments, releases = list(yaml.safe_load_all((ROOT / "helmfile.yaml").read_text()))
    return list(environments["environments"]), releases["releases"]


def test_every_environment_has_its_values_file_and_every_file_an_environment() -> None:
    environments, releases = helmfile()
    files = {p.stem for p in (HELM / "values").glob("*.yaml")} - {"_base"}
    assert set(environments) == files == {"staging", "prod"}
    for release in releases:
        for environment in environments:
            for entry in release["values"]:
                if isinstance(entry, str):
                    path = ROOT / entry.replace("{{ .Environment.Name }}", environment)
                    assert path.is_file(), f"{release['name']}: {path} is missing"
        assert (ROOT / release["chart"]).resolve() == HELM


def test_one_release_per_role_and_only_the_gateway_migrates() -> None:
    _, releases = helmfile()
    roles = {}
    for release in releases:
        inline = [entry for entry in release["values"] if isinstance(entry, dict)]
        assert len(inline) == 1, release["name"]
        roles[release["name"]] = inline[0]
    assert len(roles) == len(releases)  # names are unique
    assert sorted(v["role"] for v in roles.values()) == sorted(
        [r.value for r in Role if r is not Role.all] + ["worker"]
    )
    migrating = [name for name, v in roles.items() if v.get("migrations", {}).get("enabled")]
    assert migrating == ["api-gateway"]


def test_the_chart_uses_the_documents_ports() -> None:
    base = yaml.safe_load((HELM / "values" / "_base.yaml").read_text())
    documented = {role.value: port for role, port in ROLE_PORTS.items() if role != Role.all}
    assert base["ports"] == documented


def test_every_release_renders_in_every_environment(tmp_path: Path) -> None:
    environments, releases = helmfile()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_chart.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = set(re.findall(r"^rendered (\w+)/([\w-]+): ", result.stdout, re.M))
    assert rendered == {(e, r["name"]) for e in environments for r in releases}
    for environment, name in rendered:
        kinds = {
            doc["kind"]
            for suffix in (".yaml", ".crd.yaml")
            for doc in yaml.safe_load_all((tmp_path / f"{environment}-{name}{suffix}").read_text())
            if doc
        }
        assert ("Deployment" if name == "job-worker" else "Rollout") in kinds, name
