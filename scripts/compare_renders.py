"""Check that helmfile renders what `make lint-deploy` validated: the documents of
`helmfile -e ENV template` must equal those of scripts/render_chart.py for ENV (the same
kinds, names and contents), so helmfile.yaml and the checked manifests cannot drift apart.

    python scripts/compare_renders.py ENV HELMFILE_OUTPUT.yaml build/manifests
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


def documents(paths: list[Path]) -> dict[tuple[str, str], Any]:
    found = {}
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            # render_chart.py adds a Deployment view of each Rollout's pods for validation.
            if doc and not doc["metadata"]["name"].endswith("-rollout-pods"):
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def main(environment: str, helmfile_output: Path, manifests: Path) -> int:
    theirs = documents([helmfile_output])
    ours = documents(sorted(manifests.glob(f"{environment}-*.yaml")))
    problems = [f"only in helmfile's render: {k}" for k in sorted(set(theirs) - set(ours))]
    problems += [f"only in render_chart's: {k}" for k in sorted(set(ours) - set(theirs))]
    problems += [f"differs: {k}" for k in sorted(set(ours) & set(theirs)) if ours[k] != theirs[k]]
    for problem in problems:
        sys.stdout.write(f"{environment}: {problem}\n")
    sys.stdout.write(
        f"{environment}: helmfile and render_chart agree on {len(ours)} documents\n"
        if not problems
        else ""
    )
    return 1 if problems or not ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
