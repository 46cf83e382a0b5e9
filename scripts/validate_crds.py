"""Validate custom resources (Argo Rollouts, Karpenter, Istio, Cilium) against the published
CRD schemas vendored in infra/schemas/ (see its README.md).

    python scripts/validate_crds.py FILE.yaml...

Each document is looked up by apiVersion and kind; a custom resource without a vendored schema
is an error, as is a document that breaks its schema (an unknown field where the schema closes
the object, a wrong type, a missing required field, a value outside an enum or pattern).
Kubernetes' own kinds are kubernetes-validate's job and are refused here, so that nothing
slips between the two checks. Exits 1 on any error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "infra" / "schemas"


@cache
def validator(api_version: str, kind: str) -> Draft7Validator | None:
    group, _, version = api_version.rpartition("/")
    path = SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not group or not path.is_file():
        return None
    return Draft7Validator(json.loads(path.read_text(encoding="utf-8")))


def problems(doc: dict[str, Any]) -> Iterator[str]:
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    check = validator(api_version, kind)
    if check is None:
        yield f"no schema for {api_version} {kind} in {SCHEMAS}"
        return
    for error in sorted(check.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path) or "(root)"
        yield f"{where}: {error.message}"


def check_files(paths: Iterable[Path]) -> tuple[int, int]:
    """(documents checked, errors), printing each error with its file and object."""
    checked = errors = 0
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc:
                continue
            checked += 1
            name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            for problem in problems(doc):
                errors += 1
                sys.stdout.write(f"{path}: {name}: {problem}\n")
    return checked, errors


def main(argv: list[str]) -> int:
    checked, errors = check_files(Path(arg) for arg in argv)
    sys.stdout.write(f"custom resources: {checked} checked, {errors} errors\n")
    return 1 if errors or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
