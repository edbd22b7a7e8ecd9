"""Rendered Kubernetes overlays: schema-valid and holding the operational rules (SPEC §9)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    K8S,
    KUBERNETES_VERSION,
    ROOT,
    all_services,
    load_module,
    of_kind,
    services_with_database,
)
from podium_contracts.topics import ALL_TOPICS

Objects = list[dict[str, Any]]
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic-kafka.strimzi.io-v1beta2.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
}
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|ACCESS_KEY|DATABASE_URL|REDIS_URL"
)


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the containers of a Deployment or Job."""
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_every_object_validates_against_the_kubernetes_schemas(overlay: tuple[str, Objects]):
    _, objects = overlay
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_custom_resources_validate_against_their_schemas(overlay: tuple[str, Objects]):
    _, objects = overlay
    kinds = set()
    for obj in objects:
        schema_file = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema_file is None:
            continue
        kinds.add(obj["kind"])
        schema = json.loads((K8S / "schemas" / schema_file).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)
    assert "KafkaTopic" in kinds


def test_the_minimal_crd_schemas_reject_missing_required_fields():
    schema = json.loads(
        (K8S / "schemas" / CRD_SCHEMAS["keda.sh/v1alpha1", "ScaledObject"]).read_text()
    )
    broken = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "scoring"},
        "spec": {
            "scaleTargetRef": {"name": "scoring"},
            "triggers": [{"type": "kafka", "metadata": {}}],
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_every_service_has_a_deployment_service_account_and_pdb(overlay: tuple[str, Objects]):
    _, objects = overlay
    services = all_services()
    assert services == {
        "gateway",
        "identity",
        "competitions",
        "scoring",
        "ingest",
        "notifier",
        "rewards",
    }
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
        assert services <= set(of_kind(objects, kind)), kind


def test_deployments_have_probes_resources_and_a_restricted_security_context(
    overlay: tuple[str, Objects],
):
    _, objects = overlay
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] == name
        for container in containers(deployment):
            assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests), name
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["command"] == ["python", "-m", f"podium_{name}", "serve"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], (
                f"{name}: /tmp must be a writable emptyDir"
            )


def test_termination_grace_covers_the_graceful_shutdown(overlay: tuple[str, Objects]):
    _, objects = overlay
    for name, deployment in of_kind(objects, "Deployment").items():
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        # preStop sleep 5 s + uvicorn timeout_graceful_shutdown 20 s (podium_runtime.cli).
        assert grace > 25, name
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "consumer":
            assert grace >= 60, f"{name} must have time to finish in-flight messages"


def test_every_service_with_a_database_has_a_migration_job(overlay: tuple[str, Objects]):
    _, objects = overlay
    jobs = of_kind(objects, "Job")
    expected = services_with_database()
    assert expected, "no service has migrations/"
    assert {f"{s}-migrate" for s in expected} == set(jobs)
    for service in expected:
        job = jobs[f"{service}-migrate"]
        (container,) = containers(job)
        assert container["command"] == ["python", "-m", f"podium_{service}", "migrate"]
        assert container["securityContext"]["runAsNonRoot"] is True
        refs = [
            e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"] == "DATABASE_URL"
        ]
        assert refs == [{"name": "podium-database", "key": service}]


def test_kafka_topics_equal_the_contract_registry(overlay: tuple[str, Objects]):
    _, objects = overlay
    rendered = {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic").values()}
    expected = {t.name: t.partitions for t in ALL_TOPICS}
    expected |= {t.dead_letter: 1 for t in ALL_TOPICS}
    assert {name: t["spec"]["partitions"] for name, t in rendered.items()} == expected
    for topic in ALL_TOPICS:
        assert rendered[topic.dead_letter]["metadata"]["labels"]["podium/dead-letter"] == "true"
    for t in rendered.values():
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "podium-kafka"
        replicas, min_isr = t["spec"]["replicas"], t["spec"]["config"]["min.insync.replicas"]
        assert min_isr <= replicas


def test_generated_manifests_are_current():
    generate = load_module("deploy/k8s/generate.py")
    stale = [
        str(path.relative_to(ROOT))
        for path, text in generate.generated_files().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "regenerate with: make deploy-manifests"


def test_no_secret_value_is_committed(overlay: tuple[str, Objects]):
    _, objects = overlay
    assert of_kind(objects, "Secret") == {}, "Secrets are created by the operator, not committed"
    for kustomization in K8S.rglob("kustomization.yaml"):
        assert "secretGenerator" not in yaml.safe_load(kustomization.read_text()), kustomization
    for config in of_kind(objects, "ConfigMap").values():
        for key, value in config["data"].items():
            assert not SECRET_NAME.search(key), key
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"credentials in {key}"
    for workload in [*of_kind(objects, "Deployment").values(), *of_kind(objects, "Job").values()]:
        for container in containers(workload):
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), env["name"]


def test_identity_reads_its_signing_keys_from_a_mounted_secret(overlay: tuple[str, Objects]):
    _, objects = overlay
    identity = of_kind(objects, "Deployment")["identity"]
    pod = identity["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    keys_dir = env["PODIUM_IDENTITY_JWT_KEYS_DIR"]["value"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == keys_dir)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "podium-identity-jwt"


def test_consumers_scale_up_to_the_partition_count(dev: Objects, prod: Objects):
    partitions = max(t.partitions for t in ALL_TOPICS)
    consumers = {
        name
        for name, d in of_kind(prod, "Deployment").items()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "consumer"
    }
    assert consumers, "no consumer Deployment"
    scaled = of_kind(prod, "ScaledObject")
    assert set(scaled) == consumers
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == name
        assert 1 <= obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"] <= partitions
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == name
        # KEDA owns the replica count in prod: a fixed one would be reset on every apply.
        assert "replicas" not in of_kind(prod, "Deployment")[name]["spec"]
    for name in consumers:
        assert 1 <= of_kind(dev, "Deployment")[name]["spec"]["replicas"] <= partitions
    assert of_kind(dev, "ScaledObject") == {}
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in of_kind(prod, "HorizontalPodAutoscaler").values()
    }
    assert not hpa_targets & consumers, "an HPA and a ScaledObject would fight over replicas"


def test_only_the_gateway_is_exposed_and_it_autoscales(overlay: tuple[str, Objects]):
    _, objects = overlay
    ingresses = of_kind(objects, "Ingress")
    assert list(ingresses) == ["gateway"]
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingresses["gateway"]["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    for service in of_kind(objects, "Service").values():
        assert service["spec"]["type"] == "ClusterIP"
    hpa = of_kind(objects, "HorizontalPodAutoscaler")["gateway"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_network_policies_deny_by_default_and_admit_only_the_gateway(overlay: tuple[str, Objects]):
    _, objects = overlay
    policies = of_kind(objects, "NetworkPolicy")
    deny = policies["podium-default-deny"]["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "podium"}}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny
    egress_ports = {
        p["port"]
        for rule in policies["podium-infrastructure-egress"]["spec"]["egress"]
        for p in rule["ports"]
    }
    assert {53, 5432, 6379, 9092} <= egress_ports
    gateway_pods = {
        "matchLabels": {"app.kubernetes.io/name": "gateway", "app.kubernetes.io/part-of": "podium"}
    }
    for name in all_services():
        sources = [peer for rule in policies[name]["spec"]["ingress"] for peer in rule["from"]]
        namespaces = {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in sources
            if "namespaceSelector" in p
        }
        if name == "gateway":
            assert "ingress-nginx" in namespaces
        else:
            assert "ingress-nginx" not in namespaces
            assert {"podSelector": gateway_pods} in sources
            pods = [p for p in sources if "podSelector" in p]
            assert pods == [{"podSelector": gateway_pods}], f"only the gateway calls {name}"


def test_services_and_config_agree_on_ports(overlay: tuple[str, Objects]):
    _, objects = overlay
    services = of_kind(objects, "Service")
    (config,) = of_kind(objects, "ConfigMap").values()
    for name, deployment in of_kind(objects, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port = container["ports"][0]["containerPort"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"PODIUM_{name.upper()}_PORT"] == str(port)
        assert env[f"PODIUM_{name.upper()}_HOST"] == "0.0.0.0"  # noqa: S104
        assert services[name]["spec"]["ports"][0]["port"] == port
        if name != "gateway":
            assert config["data"][f"PODIUM_GATEWAY_{name.upper()}_URL"] == f"http://{name}:{port}"
    assert config["data"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true"


def test_images_are_pinned_in_prod(prod: Objects):
    for workload in [*of_kind(prod, "Deployment").values(), *of_kind(prod, "Job").values()]:
        for container in containers(workload):
            image = container["image"]
            assert "@sha256:" in image or re.search(r":[0-9][\w.-]*$", image), image
            assert not image.endswith(":latest")


def test_schemas_directory_only_holds_json_schemas():
    for path in Path(K8S / "schemas").iterdir():
        assert path.suffix == ".json"
        json.loads(path.read_text())
