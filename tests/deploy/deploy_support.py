"""Helpers of the deployment tests: paths, the deploy/ scripts, kustomize rendering."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
#: Kubernetes version the manifests are validated against (a schema set kubernetes-validate ships).
KUBERNETES_VERSION = "1.31.0"


def load_module(relative: str) -> ModuleType:
    """Import a script under deploy/ by path (deploy/ is not a package)."""
    name = "podium_deploy_" + Path(relative).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def services_with_database() -> set[str]:
    """Return the services that own a schema: those with a migrations/ directory."""
    return {p.parent.name for p in (ROOT / "services").glob("*/migrations") if p.is_dir()}


def all_services() -> set[str]:
    """Return every service package under services/."""
    return {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}


@functools.cache
def render(overlay: str) -> list[dict[str, Any]]:
    """Render one overlay with kustomize (kubectl's built-in or the standalone binary)."""
    path = str(K8S / "overlays" / overlay)
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", path]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", path]
    else:
        message = "kubectl or kustomize is needed to render deploy/k8s"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Return the objects of one kind by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
