"""`podium`: the operator's command line, calling the gateway's admin API (SPEC §10.5).

It speaks to the same routes as any admin client, so authorization and the
audit log apply to it unchanged. Configuration from the environment:
`PODIUM_URL` (default `http://127.0.0.1:8000`), and either `PODIUM_TOKEN` (an
access token) or `PODIUM_ADMIN_EMAIL` and `PODIUM_ADMIN_PASSWORD` (it logs in).
Every command prints the JSON answer; a refusal prints the problem on stderr
and exits with 1.

    podium users list [--q TEXT] [--role user|admin] [--disabled true|false]
    podium users show|disable|enable|resend-verification USER_ID
    podium users set-role USER_ID ROLE
    podium audit list [--action A] [--actor ID] [--target-type T] [--target ID]
    podium audit export [--format jsonl|csv]
    podium dead-letters list [--topic T] [--type EVENT_TYPE] [--status S]
    podium dead-letters show TOPIC PARTITION OFFSET
    podium dead-letters replay|discard --topic T [--at PARTITION:OFFSET ...] [--type E] [--reason R]
    podium jobs show JOB_ID
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx


@dataclass
class Request:
    """One HTTP call a command maps to."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    raw: bool = False


def _positions(values: list[str] | None) -> list[dict[str, int]] | None:
    if not values:
        return None
    positions = []
    for value in values:
        partition, _, offset = value.partition(":")
        positions.append({"partition": int(partition), "offset": int(offset)})
    return positions


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of every command."""
    root = argparse.ArgumentParser(prog="podium", description="Operate a Podium installation.")
    groups = root.add_subparsers(dest="group", required=True)

    users = groups.add_parser("users", help="user accounts").add_subparsers(
        dest="command", required=True
    )
    listing = users.add_parser("list", help="search users")
    listing.add_argument("--q")
    listing.add_argument("--role", choices=["user", "admin"])
    listing.add_argument("--disabled", choices=["true", "false"])
    listing.add_argument("--cursor")
    listing.add_argument("--limit", type=int)
    for name in ("show", "disable", "enable", "resend-verification"):
        users.add_parser(name).add_argument("user_id")
    set_role = users.add_parser("set-role")
    set_role.add_argument("user_id")
    set_role.add_argument("role", choices=["user", "admin"])

    audit = groups.add_parser("audit", help="the audit log").add_subparsers(
        dest="command", required=True
    )
    for name in ("list", "export"):
        command = audit.add_parser(name)
        command.add_argument("--action")
        command.add_argument("--actor")
        command.add_argument("--target-type")
        command.add_argument("--target")
        command.add_argument("--since")
        command.add_argument("--until")
        if name == "list":
            command.add_argument("--cursor")
            command.add_argument("--limit", type=int)
        else:
            command.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    dead = groups.add_parser("dead-letters", help="dead-lettered events").add_subparsers(
        dest="command", required=True
    )
    listing = dead.add_parser("list")
    listing.add_argument("--topic")
    listing.add_argument("--type")
    listing.add_argument("--status", choices=["pending", "replayed", "discarded"])
    show = dead.add_parser("show")
    show.add_argument("topic")
    show.add_argument("partition", type=int)
    show.add_argument("offset", type=int)
    for name in ("replay", "discard"):
        command = dead.add_parser(name)
        command.add_argument("--topic", required=True)
        command.add_argument("--at", action="append", help="PARTITION:OFFSET (repeatable)")
        command.add_argument("--type", help="only events of this type")
        command.add_argument("--reason", required=name == "discard")

    jobs = groups.add_parser("jobs", help="background jobs").add_subparsers(
        dest="command", required=True
    )
    jobs.add_parser("show").add_argument("job_id")
    return root


def request_for(options: argparse.Namespace) -> Request:
    """Map parsed arguments to the admin API call."""
    group, command = options.group, options.command
    if group == "users":
        if command == "list":
            params = {
                k: getattr(options, k)
                for k in ("q", "role", "disabled", "cursor", "limit")
                if getattr(options, k) is not None
            }
            return Request("GET", "/v1/admin/users", params)
        path = f"/v1/admin/users/{options.user_id}"
        if command == "show":
            return Request("GET", path)
        if command == "resend-verification":
            return Request("POST", f"{path}/resend-verification")
        if command == "set-role":
            return Request("PATCH", path, json={"role": options.role})
        return Request("PATCH", path, json={"disabled": command == "disable"})
    if group == "audit":
        params = {
            k: getattr(options, a)
            for k, a in (
                ("action", "action"),
                ("actor", "actor"),
                ("target_type", "target_type"),
                ("target", "target"),
                ("since", "since"),
                ("until", "until"),
                ("cursor", "cursor"),
                ("limit", "limit"),
                ("format", "format"),
            )
            if getattr(options, a, None) is not None
        }
        if command == "export":
            return Request("GET", "/v1/admin/audit/export", params, raw=True)
        return Request("GET", "/v1/admin/audit", params)
    if group == "dead-letters":
        if command == "list":
            params = {
                k: getattr(options, k)
                for k in ("topic", "type", "status")
                if getattr(options, k) is not None
            }
            return Request("GET", "/v1/admin/dead-letters", params)
        if command == "show":
            return Request(
                "GET",
                f"/v1/admin/dead-letters/{options.topic}/{options.partition}/{options.offset}",
            )
        body: dict[str, Any] = {"topic": options.topic}
        if options.at:
            body["offsets"] = _positions(options.at)
        if options.type:
            body["filter"] = {"event_type": options.type}
        if options.reason:
            body["reason"] = options.reason
        return Request("POST", f"/v1/admin/dead-letters/{command}", json=body)
    return Request("GET", f"/v1/admin/jobs/{options.job_id}")


async def _token(http: httpx.AsyncClient, environ: dict[str, str]) -> str:
    if environ.get("PODIUM_TOKEN"):
        return environ["PODIUM_TOKEN"]
    email, password = environ.get("PODIUM_ADMIN_EMAIL"), environ.get("PODIUM_ADMIN_PASSWORD")
    if not email or not password:
        raise SystemExit("set PODIUM_TOKEN, or PODIUM_ADMIN_EMAIL and PODIUM_ADMIN_PASSWORD")
    answer = await http.post("/v1/auth/login", json={"email": email, "password": password})
    if answer.status_code != 200:
        raise SystemExit(f"login refused: {answer.text}")
    return str(answer.json()["access_token"])


async def run(
    argv: list[str],
    environ: dict[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run one command; return the exit status."""
    environ = dict(os.environ) if environ is None else environ
    options = parser().parse_args(argv)
    call = request_for(options)
    base_url = environ.get("PODIUM_URL", "http://127.0.0.1:8000")
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        token = await _token(http, environ)
        answer = await http.request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers={"Authorization": f"Bearer {token}"},
        )
    if answer.status_code >= 400:
        err.write(answer.text + "\n")
        return 1
    if call.raw:
        out.write(answer.text)
    elif answer.content:
        out.write(json.dumps(answer.json(), indent=2, sort_keys=True) + "\n")
    else:
        out.write(json.dumps({"status": answer.status_code}) + "\n")
    return 0


def main() -> None:
    """Entry point of `podium`."""
    raise SystemExit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
