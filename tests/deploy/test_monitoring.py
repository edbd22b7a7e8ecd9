"""Structure of the monitoring files in deploy/k8s/monitoring (issue 18).

The alerts name metrics the services really export and link to a runbook
section that exists; the ServiceMonitor scrapes the port every Service
declares; the dashboard is valid Grafana JSON whose queries use real metrics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "k8s" / "monitoring"
RUNBOOK = ROOT / "docs" / "runbook.md"
METRIC = re.compile(r"\b(podium_[a-z_]+)\b")
#: What the issue asks to be alerted on, one alert each at least.
REQUIRED_ALERTS = {
    "PodiumConsumerLagHigh",
    "PodiumDeadLettersGrowing",
    "PodiumHigh5xxRate",
    "PodiumOutboxBacklogOld",
    "PodiumScoringFailures",
    "PodiumReadinessFlapping",
}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    return [rule for group in document["spec"]["groups"] for rule in group["rules"]]


def _exported_metrics() -> set[str]:
    """Every metric family name the services register (samples included: `_bucket`...)."""
    import podium_ingest.service  # noqa: F401
    import podium_runtime.metrics
    import podium_runtime.operations  # noqa: F401
    from prometheus_client import REGISTRY

    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        names.update(REGISTRY._collector_to_names[collector])
    return {n for n in names if n.startswith("podium_")}


def _anchors() -> set[str]:
    return {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }


def _balanced(expr: str) -> bool:
    depth = 0
    for char in expr:
        depth += {"(": 1, ")": -1, "{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def test_alerts_are_complete_and_each_links_to_its_runbook_section() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert REQUIRED_ALERTS <= set(names)
    anchors = _anchors()
    for rule in rules:
        assert _balanced(rule["expr"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        anchor = annotations["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in anchors, rule["alert"]


def test_alert_and_dashboard_queries_use_metrics_the_services_export() -> None:
    exported = _exported_metrics()
    dashboard = json.loads((MONITORING / "dashboards" / "podium.json").read_text())
    expressions = [r["expr"] for r in _rules()] + [
        t["expr"] for p in dashboard["panels"] for t in p["targets"]
    ]
    used = {m for e in expressions for m in METRIC.findall(e)}
    assert used, "no Podium metric is used"
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def test_dashboard_is_valid_grafana_json() -> None:
    dashboard = json.loads((MONITORING / "dashboards" / "podium.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 8
    for panel in dashboard["panels"]:
        assert panel["targets"] and {"x", "y", "w", "h"} <= set(panel["gridPos"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        assert all(_balanced(t["expr"]) for t in panel["targets"])


def test_service_monitor_scrapes_the_port_every_service_declares() -> None:
    monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    assert monitor["kind"] == "ServiceMonitor"
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    services = [
        doc
        for path in (ROOT / "deploy" / "k8s" / "base").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Service"
    ]
    assert services
    for service in services:
        labels = service["metadata"]["labels"]
        if (
            labels.get("app.kubernetes.io/part-of") != "podium"
            or "kafka" in service["metadata"]["name"]
        ):
            continue
        assert selector.items() <= labels.items(), service["metadata"]["name"]
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["port"] in ports, service["metadata"]["name"]


@pytest.mark.parametrize("name", ["servicemonitor.yaml", "prometheusrule.yaml"])
def test_kustomization_lists_the_monitoring_resources(name: str) -> None:
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    assert name in kustomization["resources"]
    [generator] = kustomization["configMapGenerator"]
    assert generator["files"] == ["dashboards/podium.json"]
