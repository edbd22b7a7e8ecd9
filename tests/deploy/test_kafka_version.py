"""One Apache Kafka version everywhere: embedded (dev, tests), compose and Strimzi (ADR 0005)."""

from __future__ import annotations

from typing import Any

import yaml
from deploy_support import K8S, ROOT
from podium_runtime.kafka_embedded import KAFKA_VERSION


def strimzi_objects() -> dict[str, dict[str, Any]]:
    """Return the objects of deploy/k8s/kafka/cluster.yaml by kind."""
    documents = yaml.safe_load_all((K8S / "kafka" / "cluster.yaml").read_text())
    return {d["kind"]: d for d in documents if d}


def test_compose_runs_the_embedded_kafka_version():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_the_strimzi_cluster_runs_the_embedded_kafka_version_in_kraft_mode():
    objects = strimzi_objects()
    kafka = objects["Kafka"]
    assert kafka["metadata"]["name"] == "podium-kafka"  # the cluster KafkaTopics name
    assert kafka["spec"]["kafka"]["version"] == KAFKA_VERSION
    major_minor = ".".join(KAFKA_VERSION.split(".")[:2])
    assert kafka["spec"]["kafka"]["metadataVersion"].startswith(major_minor + "-IV")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    pool = objects["KafkaNodePool"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "podium-kafka"
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}


def test_the_strimzi_cluster_serves_the_bootstrap_the_services_use():
    listeners = strimzi_objects()["Kafka"]["spec"]["kafka"]["listeners"]
    plain = [listener for listener in listeners if listener["port"] == 9092]
    assert plain and plain[0]["tls"] is False and plain[0]["type"] == "internal"
    base = (K8S / "base" / "kustomization.yaml").read_text()
    assert "KAFKA_BOOTSTRAP_SERVERS=podium-kafka-kafka-bootstrap:9092" in base
