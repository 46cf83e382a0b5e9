"""The custom resources pass their published CRD schemas (infra/schemas), and the same check
that `make lint-deploy` runs refuses a broken one."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "validate_crds.py"), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manifests")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_chart.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def prod_gateway(rendered: Path, kind: str) -> dict[str, Any]:
    docs = yaml.safe_load_all((rendered / "prod-api-gateway.crd.yaml").read_text())
    return next(doc for doc in docs if doc["kind"] == kind)


def test_the_rendered_resources_and_infra_k8s_pass(rendered: Path) -> None:
    files = sorted(rendered.glob("*.crd.yaml")) + sorted((ROOT / "infra" / "k8s").glob("*.yaml"))
    result = validate(*files)
    assert result.returncode == 0, result.stdout
    kinds = {doc["kind"] for path in files for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert kinds == {
        "Rollout",
        "AnalysisTemplate",
        "NodePool",
        "EC2NodeClass",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "CiliumNetworkPolicy",
    }


def misspelled(rollout: dict[str, Any]) -> None:
    green = rollout["spec"]["strategy"]["blueGreen"]
    green["autoPromotionEnabeld"] = green.pop("autoPromotionEnabled")


def wrong_type(rollout: dict[str, Any]) -> None:
    rollout["spec"]["revisionHistoryLimit"] = "three"


def no_active_service(rollout: dict[str, Any]) -> None:
    del rollout["spec"]["strategy"]["blueGreen"]["activeService"]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (misspelled, "'autoPromotionEnabeld' was unexpected"),
        (wrong_type, "spec.revisionHistoryLimit: 'three' is not of type 'integer'"),
        (no_active_service, "'activeService' is a required property"),
    ],
)
def test_a_broken_rollout_is_refused(
    rendered: Path, tmp_path: Path, breakage: Any, message: str
) -> None:
    rollout = copy.deepcopy(prod_gateway(rendered, "Rollout"))
    assert validate(write(tmp_path / "good.yaml", rollout)).returncode == 0
    breakage(rollout)
    result = validate(write(tmp_path / "broken.yaml", rollout))
    assert result.returncode == 1
    assert message in result.stdout


def test_a_wrong_enum_and_an_unknown_kind_are_refused(tmp_path: Path) -> None:
    mtls = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default"},
        "spec": {"mtls": {"mode": "STRICTEST"}},
    }
    unknown = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    result = validate(write(tmp_path / "bad.yaml", mtls, unknown))
    assert result.returncode == 1
    assert "spec.mtls.mode: 'STRICTEST' is not one of" in result.stdout
    assert "no schema for example.com/v1 Gadget" in result.stdout


def write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path
