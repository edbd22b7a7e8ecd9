"""JSON Schema export of every event and the compatibility rule between versions (SPEC §4).

`make contracts` writes `libs/contracts/schemas/<type>.v<version>.json`. A schema
of an existing version may only change compatibly: consumers written against the
old schema must still read new messages, and new consumers must read old ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podium_contracts.events import ALL_EVENTS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every event, keyed by `<type>.v<version>`."""
    return {cls.schema_name(): cls.model_json_schema(mode="serialization") for cls in ALL_EVENTS}


def load_snapshots(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """Read the committed schema snapshots from `directory`."""
    return {
        p.name.removesuffix(".json"): json.loads(p.read_text())
        for p in sorted(directory.glob("*.json"))
    }


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` and unwrap single-branch `anyOf`/`allOf`."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {})[name]
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> frozenset[str]:
    """Return the set of JSON types (or referenced definitions) a schema accepts."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        found: set[str] = set()
        for branch in schema["anyOf"]:
            found |= _types(branch, root)
        return frozenset(found)
    if "const" in schema:
        return frozenset({f"const:{json.dumps(schema['const'])}"})
    if "enum" in schema:
        return frozenset(f"const:{json.dumps(v)}" for v in schema["enum"])
    kind = schema.get("type", "any")
    return frozenset({kind if isinstance(kind, str) else "|".join(sorted(kind))})


def incompatibilities(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "",
    old_root: dict[str, Any] | None = None,
    new_root: dict[str, Any] | None = None,
) -> list[str]:
    """List the changes from `old` to `new` that break readers or writers of the same version.

    Breaking: a property removed, a property's accepted types changed, a new
    required property, an optional property made required. Adding an optional
    property is compatible (consumers ignore unknown fields).
    """
    old_root = old_root if old_root is not None else old
    new_root = new_root if new_root is not None else new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{where}: property removed")
            continue
        new_prop = new_props[name]
        if _types(old_prop, old_root) != _types(new_prop, new_root):
            problems.append(f"{where}: type changed")
            continue
        if name in new_required and name not in old_required:
            problems.append(f"{where}: optional property became required")
        problems += incompatibilities(old_prop, new_prop, where, old_root, new_root)
    for name in new_required - set(old_props):
        where = f"{path}.{name}" if path else name
        problems.append(f"{where}: new required property")
    if "items" in old and "items" in new:
        problems += incompatibilities(old["items"], new["items"], f"{path}[]", old_root, new_root)
    return problems


def check_against_snapshots(snapshots: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Compare current schemas with `snapshots`; return breaking changes per schema name.

    A snapshot whose event version no longer exists is reported too: removing a
    version strands its producers.
    """
    current = current_schemas()
    report: dict[str, list[str]] = {}
    for name, old in snapshots.items():
        if name not in current:
            report[name] = ["event version removed"]
            continue
        problems = incompatibilities(old, current[name])
        if problems:
            report[name] = problems
    return report


def write_snapshots(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write the current schemas to `directory`; refuse when a change is incompatible."""
    directory.mkdir(parents=True, exist_ok=True)
    report = check_against_snapshots(load_snapshots(directory))
    if report:
        lines = [f"{name}: {', '.join(p)}" for name, p in sorted(report.items())]
        raise SystemExit("incompatible change without a version bump:\n" + "\n".join(lines))
    written = []
    for name, schema in current_schemas().items():
        (directory / f"{name}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(name)
    return written


def main() -> None:
    """Entry point of `make contracts`."""
    for name in write_snapshots():
        print(f"wrote schemas/{name}.json")


if __name__ == "__main__":
    main()
