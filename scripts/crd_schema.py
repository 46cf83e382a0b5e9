"""Turn a published CustomResourceDefinition into the JSON Schema that `scripts/validate_crds.py`
checks documents against, the way the API server reads it with strict field validation
(`kubectl apply`'s default since Kubernetes 1.27):

- an object schema that lists `properties` and neither `additionalProperties` nor
  `x-kubernetes-preserve-unknown-fields: true` rejects unknown fields (the server prunes or,
  strict, refuses them);
- `x-kubernetes-int-or-string: true` allows an integer or a string;
- `nullable: true` also allows null;
- `description` texts are left out (they are prose, not rules).

CEL rules (`x-kubernetes-validations`) are kept as data but not evaluated: no CEL engine here.

    python scripts/crd_schema.py CRD.yaml OUT_DIR --source "repo path@tag (commit)"

writes OUT_DIR/<group>/<kind lower>_<version>.json for each served version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any, names: bool = False) -> Any:
    """`names` is true for a `properties` map, whose keys are field names, not keywords."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: strict(value, names=key == "properties" and not names)
        for key, value in node.items()
        if names or key != "description"  # prose: left out to keep the vendored data small
    }
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def convert(crd: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    schemas = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = strict(version["schema"]["openAPIV3Schema"])
        # The API server gives every custom resource these, whether the CRD lists them or not.
        implicit = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
        implicit["metadata"] = {"type": "object"}
        schema["properties"] = {**implicit, **schema.get("properties", {})}
        schema = {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$comment": f"{group}/{version['name']} {kind}: openAPIV3Schema of {source}, "
            "converted by scripts/crd_schema.py (Apache-2.0 upstream; see README.md)",
            "x-kubernetes-group-version-kind": {
                "group": group,
                "version": version["name"],
                "kind": kind,
            },
            **schema,
        }
        schemas[f"{group}/{kind.lower()}_{version['name']}.json"] = schema
    return schemas


def main(crd_file: Path, out: Path, source: str, kinds: set[str]) -> int:
    for doc in yaml.safe_load_all(crd_file.read_text(encoding="utf-8")):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        if kinds and doc["spec"]["names"]["kind"] not in kinds:
            continue
        for name, schema in convert(doc, source).items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8"
            )
            sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    source = args[args.index("--source") + 1] if "--source" in args else "unknown source"
    only = set(args[args.index("--kinds") + 1].split(",")) if "--kinds" in args else set()
    sys.exit(main(Path(args[0]), Path(args[1]), source, only))
