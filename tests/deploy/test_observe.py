"""infra/observe: the real Prometheus (Debian's package) scrapes a running server and the job
worker and loads the alert rules; the rules and the dashboard use only metrics the app has."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from certplatform.kernel.telemetry import REGISTRY
from tests.support.browser import free_port, live_server

ROOT = Path(__file__).resolve().parents[2]
OBSERVE = ROOT / "infra" / "observe"
PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
# Series that come from elsewhere: Prometheus itself and kube-state-metrics on a cluster.
EXTERNAL = {"up"}
EXTERNAL_PREFIXES = ("kube_",)


@contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(check: Any, what: str, log: Path, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen:\n{log.read_text()[-3000:]}")


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    reply.raise_for_status()
    result: list[dict[str, Any]] = reply.json()["data"]["result"]
    return result


def test_prometheus_scrapes_the_server_and_the_worker(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'observe.db'}",
        "MEDIA_DIR": str(tmp_path / "media"),
        "APP_ENV": "test",
    }
    worker_port, prometheus_port = free_port(), free_port()
    with ExitStack() as stack:
        server = stack.enter_context(live_server(env, "--role", "all"))
        stack.enter_context(
            running(
                [
                    sys.executable,
                    "-m",
                    "certplatform.cli",
                    "worker",
                    "--metrics-port",
                    str(worker_port),
                ],
                {**os.environ, **env},
                tmp_path / "worker.log",
            )
        )
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "certplatform.rules.yml").write_text(
            (OBSERVE / "rules" / "certplatform.rules.yml").read_text()
        )
        config = yaml.safe_load((OBSERVE / "prometheus.yml").read_text())
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["alerting"] = {"alertmanagers": []}
        config["scrape_configs"][0]["static_configs"] = [
            {"targets": [server.removeprefix("http://")], "labels": {"role": "all"}},
            {"targets": [f"127.0.0.1:{worker_port}"], "labels": {"role": "worker"}},
        ]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = tmp_path / "prometheus.log"
        stack.enter_context(
            running(
                [
                    PROMETHEUS,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                dict(os.environ),
                log,
            )
        )
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        for path in ("/healthz", "/signin", "/no/such/page"):
            httpx.get(f"{server}{path}", timeout=10)

        def both_up() -> bool:
            ups = query(prometheus, 'up{job="certplatform"}')
            return len(ups) == 2 and all(u["value"][1] == "1" for u in ups)

        wait_for(both_up, "both targets up", log)
        served = wait_for(
            lambda: query(prometheus, 'http_requests_total{route="/signin",status="200"}'),
            "the server's requests scraped",
            log,
        )
        assert served[0]["metric"]["role"] == "all"
        assert query(prometheus, 'http_requests_total{route="unmatched",status="404"}')
        assert query(prometheus, 'http_request_duration_seconds_bucket{route="/healthz"}')
        # The worker's own metrics: its relay measures the outbox, its sweeper is a timed job.
        assert wait_for(
            lambda: query(prometheus, 'outbox_pending_events{role="worker"}'),
            "the worker's outbox gauge scraped",
            log,
        )
        assert query(prometheus, 'process_resident_memory_bytes{role="worker"}')
        # The alert rules are loaded and evaluated; with everything up none is firing.
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        names = {rule["name"] for group in groups for rule in group["rules"]}
        assert {"CertplatformHighErrorRatio", "CertplatformOutboxLag"} <= names
        assert query(prometheus, 'ALERTS{alertname="CertplatformTargetDown"}') == []


def exported_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
        }.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def used_names(expressions: list[str]) -> set[str]:
    names = set()
    for expr in expressions:
        names |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*[{\[]", expr))
    return {n for n in names if n not in EXTERNAL and not n.startswith(EXTERNAL_PREFIXES)}


def test_the_rules_and_the_dashboard_use_only_metrics_the_app_exports() -> None:
    rules = yaml.safe_load((OBSERVE / "rules" / "certplatform.rules.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((OBSERVE / "grafana" / "dashboards" / "certplatform.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = used_names(exprs)
    assert {"http_requests_total", "outbox_oldest_pending_age_seconds"} <= used
    assert used - exported_names() == set()
    # What the dashboard shows, as the issue asks: latency, errors, attempts, queue depth.
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("latency", "error", "attempts", "queue depth"):
        assert topic in titles


@pytest.mark.parametrize("name", ["datasources/datasources.yml", "dashboards/dashboards.yml"])
def test_the_grafana_provisioning_names_what_exists(name: str) -> None:
    config = yaml.safe_load((OBSERVE / "grafana" / "provisioning" / name).read_text())
    if "datasources" in config:
        assert {d["uid"] for d in config["datasources"]} == {"prometheus", "loki", "tempo"}
    else:
        assert config["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
        compose = yaml.safe_load((OBSERVE / "docker-observe.yml").read_text())
        mounts = compose["services"]["grafana"]["volumes"]
        assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts


def test_the_app_sends_its_spans_to_tempo_and_grafana_links_logs_and_traces() -> None:
    tempo = yaml.safe_load((OBSERVE / "tempo" / "tempo.yml").read_text())
    http = tempo["distributor"]["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"].endswith(":4318")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        # Every role the app's image runs (not the one-shot migration, not coturn).
        if "build" in service and name != "migrate":
            endpoint = service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
            assert endpoint == "${OTEL_EXPORTER_OTLP_ENDPOINT-http://tempo:4318}", name
    observe = yaml.safe_load((OBSERVE / "docker-observe.yml").read_text())
    assert observe["services"]["tempo"]["networks"] == ["neget"]
    sources = yaml.safe_load(
        (OBSERVE / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
    )["datasources"]
    by_uid = {source["uid"]: source for source in sources}
    assert by_uid["tempo"]["url"] == "http://tempo:3200"
    assert by_uid["tempo"]["jsonData"]["tracesToLogsV2"]["filterByTraceID"] is True
    (derived,) = by_uid["loki"]["jsonData"]["derivedFields"]
    line = '{"event": "http.request", "trace_id": "0af7651916cd43dd8448eb211c80319c"}'
    found = re.search(derived["matcherRegex"], line)
    assert found is not None
    assert found.group(1) == "0af7651916cd43dd8448eb211c80319c"
    assert derived["datasourceUid"] == "tempo"
