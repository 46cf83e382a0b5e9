"""Render every release of helmfile.yaml (each environment) with the Helm v4 engine of the
helm-python-sdk wheel, `helm lint` the chart, and write the manifests to OUT for
kubernetes-validate. Exits non-zero on a lint error or a template that does not render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "infra" / "helm"
# Kinds the Kubernetes schemas do not know (CRDs): listed so that the caller can check them
# separately; everything else must validate against the Kubernetes schemas.
CRD_KINDS = {"Rollout", "AnalysisTemplate"}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def releases(environment: str) -> list[tuple[str, str, dict[str, Any]]]:
    text = (ROOT / "helmfile.yaml").read_text(encoding="utf-8")
    text = text.replace("{{ .Environment.Name }}", environment)
    docs = list(yaml.safe_load_all(text))
    found = []
    for release in docs[-1]["releases"]:
        values: dict[str, Any] = {}
        for entry in release["values"]:
            layer = (
                yaml.safe_load((ROOT / entry).read_text(encoding="utf-8"))
                if isinstance(entry, str)
                else entry
            )
            values = merge(values, layer or {})
        found.append((release["name"], release["namespace"], values))
    return found


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for environment in ("staging", "prod"):
        for name, namespace, values in releases(environment):
            report = helm.lint(CHART, values, strict=True, namespace=namespace)
            for message in report.get("messages") or []:
                if message["severity"] >= 2:
                    where = f"{environment}/{name}: {message['path']}"
                    sys.stdout.write(f"helm lint {where}: {message['error']}\n")
                    failures += 1
            with helm.Chart.load(CHART) as chart:
                manifests = chart.render(values, name=name, namespace=namespace, is_upgrade=True)
            docs = [
                doc
                for path, body in sorted(manifests.items())
                if path.endswith(".yaml")
                for doc in yaml.safe_load_all(body)
                if doc
            ]
            native = [d for d in docs if d["kind"] not in CRD_KINDS]
            # A Rollout's pod template is a Deployment's: validate it as one.
            native += [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {
                        "name": f"{d['metadata']['name']}-rollout-pods",
                        "namespace": d["metadata"].get("namespace"),
                    },
                    "spec": {"selector": d["spec"]["selector"], "template": d["spec"]["template"]},
                }
                for d in docs
                if d["kind"] == "Rollout"
            ]
            crds = [d for d in docs if d["kind"] in CRD_KINDS]
            target = out / f"{environment}-{name}"
            (target.with_suffix(".yaml")).write_text(yaml.safe_dump_all(native), encoding="utf-8")
            (target.with_suffix(".crd.yaml")).write_text(yaml.safe_dump_all(crds), encoding="utf-8")
            kinds = ", ".join(sorted({d["kind"] for d in docs}))
            sys.stdout.write(f"rendered {environment}/{name}: {kinds}" + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/manifests")))
