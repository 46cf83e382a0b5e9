"""Run the benchmarks: `python -m bench [name ...]` (names in ALL)."""

from __future__ import annotations

import importlib
import sys

ALL = (
    "import_speed",
    "search_latency",
    "exam_load",
    "save_peak",
    "exam_day",
    "irt_calibration",
    "metrics_overhead",
    "rooms",
    "event_flow",
    "dashboard",
    "tracing_overhead",
    "job_throughput",
)


def main(names: list[str]) -> None:
    for name in names or ALL:
        if name not in ALL:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(ALL)}")
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
