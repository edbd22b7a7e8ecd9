"""`podium`: the operator's command line, calling the gateway's admin API (SPEC §10.5).

It speaks to the same routes as any admin client, so authorization and the
audit log apply to it unchanged. Configuration from the environment:
`PODIUM_URL` (default `http://127.0.0.1:8000`), and either `PODIUM_TOKEN` (an
access token) or `PODIUM_ADMIN_EMAIL` and `PODIUM_ADMIN_PASSWORD` (it logs in).
Every command prints the JSON answer; a refusal prints the problem on stderr
and exits with 1.

    podium users list [--q TEXT] [--role user|admin] [--disabled true|false]
    podium users show|disable|enable|resend-verification|erase USER_ID
    podium users set-role USER_ID ROLE
    podium audit list|export [--action A] [--actor ID] [--target-type T] [--target ID]
                             [--competition ID] [--since T] [--until T] [--format jsonl|csv]
    podium dead-letters list [--topic T] [--type EVENT_TYPE] [--status S]
    podium dead-letters show TOPIC PARTITION OFFSET
    podium dead-letters replay|discard --topic T [--at PARTITION:OFFSET ...] [--type E] [--reason R]
    podium jobs show JOB_ID [--wait]
    podium rebuilds start --target T [--competition ID] [--wait]
    podium rebuilds show JOB_ID [--wait]
    podium etl | summary | reminders preview | integrity [--repair]
    podium queries list | queries run NAME [--param KEY=VALUE ...]
    podium statements show STATEMENT_ID
    podium retention run [--outbox-sent-days N] [--inbox-days N]
    podium lrs-clients list [--include-revoked] | create NAME --scope S ... | revoke ID
    podium lrs-clients trust ID --competition COMPETITION_ID
    podium xapi erase --agent JSON
    podium drawings list | create --body FILE | update ID [--body FILE] [--status S] | execute ID
    podium fulfillments list | update ID --body FILE | ship ID --body FILE
    podium wallets adjust USER_ID --points N --reason R

`--wait` follows a job until it ends, printing its progress (`done/total`,
ETA) on stderr, then prints the final state. `--body FILE` reads a JSON body
(`-` for stdin).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

#: How often `--wait` asks for a job's progress.
POLL_SECONDS = 0.5


@dataclass
class Request:
    """One HTTP call a command maps to."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    raw: bool = False
    #: Follow the job the answer names until it ends (`--wait`), at this path + job id.
    follow: str | None = None


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
    for name in ("show", "disable", "enable", "resend-verification", "erase"):
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
        command.add_argument("--competition", help="everything about one competition")
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
    show_job = jobs.add_parser("show")
    show_job.add_argument("job_id")
    show_job.add_argument("--wait", action="store_true", help="follow it until it ends")

    _operations_parsers(groups)
    return root


def _group(
    groups: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return groups.add_parser(name, help=help).add_subparsers(dest="command", required=True)


def _operations_parsers(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Rebuilds, data tools, LRS clients, xAPI erasure and the rewards administration."""
    rebuilds = _group(groups, "rebuilds", "projection rebuilds")
    start = rebuilds.add_parser("start")
    start.add_argument(
        "--target",
        required=True,
        choices=["leaderboards", "activity_boards", "statements_flat"],
    )
    start.add_argument("--competition")
    start.add_argument("--wait", action="store_true", help="follow it until it ends")
    show = rebuilds.add_parser("show")
    show.add_argument("job_id")
    show.add_argument("--wait", action="store_true", help="follow it until it ends")

    for name, help in (
        ("etl", "consumer freshness per service"),
        ("summary", "rows per table, per service"),
    ):
        groups.add_parser(name, help=help).set_defaults(command=name)
    integrity = groups.add_parser("integrity", help="cross-projection checks")
    integrity.add_argument("--repair", action="store_true")
    integrity.set_defaults(command="check")
    _group(groups, "reminders", "daily reminders").add_parser("preview")
    queries = _group(groups, "queries", "prebuilt read-only queries")
    queries.add_parser("list")
    run_query = queries.add_parser("run")
    run_query.add_argument("name")
    run_query.add_argument("--param", action="append", default=[], help="KEY=VALUE")
    _group(groups, "statements", "raw xAPI statements").add_parser("show").add_argument(
        "statement_id"
    )
    retention = _group(groups, "retention", "outbox and inbox retention").add_parser("run")
    retention.add_argument("--outbox-sent-days", type=float)
    retention.add_argument("--inbox-days", type=float)

    clients = _group(groups, "lrs-clients", "xAPI credentials")
    clients.add_parser("list").add_argument("--include-revoked", action="store_true")
    create = clients.add_parser("create")
    create.add_argument("name")
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    clients.add_parser("revoke").add_argument("client_id")
    trust = clients.add_parser("trust", help="its statements count for an activity competition")
    trust.add_argument("client_id")
    trust.add_argument("--competition", required=True)
    _group(groups, "xapi", "the Learning Record Store").add_parser("erase").add_argument(
        "--agent", required=True, help="the xAPI agent as JSON"
    )

    drawings = _group(groups, "drawings", "sweepstakes drawings")
    drawings.add_parser("list")
    drawings.add_parser("create").add_argument("--body", required=True)
    update = drawings.add_parser("update")
    update.add_argument("drawing_id")
    update.add_argument("--body")
    update.add_argument("--status")
    drawings.add_parser("execute").add_argument("drawing_id")
    fulfillments = _group(groups, "fulfillments", "prizes to deliver")
    fulfillments.add_parser("list")
    for name in ("update", "ship"):
        command = fulfillments.add_parser(name)
        command.add_argument("fulfillment_id")
        command.add_argument("--body", required=True)
    adjust = _group(groups, "wallets", "point wallets").add_parser("adjust")
    adjust.add_argument("user_id")
    adjust.add_argument("--points", type=int, required=True)
    adjust.add_argument("--reason", required=True)


def _body(source: str | None) -> dict[str, Any]:
    """Read a JSON body from a file, or stdin for `-`."""
    if source is None:
        return {}
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    body = json.loads(text)
    if not isinstance(body, dict):
        raise SystemExit("the body must be a JSON object")
    return body


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"--param wants KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _operations_request(options: argparse.Namespace) -> Request | None:
    """Map the commands of `_operations_parsers` to their admin API call."""
    group, command = options.group, options.command
    if group == "rebuilds":
        if command == "start":
            body = {"target": options.target}
            if options.competition:
                body["competition_id"] = options.competition
            follow = "/v1/admin/rebuilds/" if options.wait else None
            return Request("POST", "/v1/admin/rebuilds", json=body, follow=follow)
        follow = "/v1/admin/rebuilds/" if options.wait else None
        return Request("GET", f"/v1/admin/rebuilds/{options.job_id}", follow=follow)
    simple = {
        ("etl", "etl"): "/v1/admin/etl",
        ("summary", "summary"): "/v1/admin/summary",
        ("reminders", "preview"): "/v1/admin/reminders/preview",
        ("queries", "list"): "/v1/admin/queries",
        ("lrs-clients", "list"): "/v1/admin/lrs-clients",
        ("drawings", "list"): "/v1/admin/drawings",
        ("fulfillments", "list"): "/v1/admin/fulfillments",
    }
    if (group, command) in simple:
        params = {"include_revoked": "true"} if getattr(options, "include_revoked", False) else {}
        return Request("GET", simple[(group, command)], params)
    if group == "integrity":
        return Request("GET", "/v1/admin/integrity", {"repair": str(options.repair).lower()})
    if group == "queries":
        params = dict(_param(p) for p in options.param)
        return Request("POST", f"/v1/admin/queries/{options.name}", json={"params": params})
    if group == "statements":
        return Request("GET", f"/v1/admin/statements/{options.statement_id}")
    if group == "retention":
        body = {
            k: getattr(options, k)
            for k in ("outbox_sent_days", "inbox_days")
            if getattr(options, k) is not None
        }
        return Request("POST", "/v1/admin/retention", json=body)
    if group == "lrs-clients":
        if command == "create":
            return Request(
                "POST",
                "/v1/admin/lrs-clients",
                json={"name": options.name, "scopes": options.scopes},
            )
        if command == "trust":
            return Request(
                "POST",
                f"/v1/admin/lrs-clients/{options.client_id}/trust",
                json={"competition_id": options.competition},
            )
        return Request("DELETE", f"/v1/admin/lrs-clients/{options.client_id}")
    if group == "xapi":
        return Request("POST", "/v1/admin/xapi/erasures", json={"agent": json.loads(options.agent)})
    if group == "drawings":
        if command == "create":
            return Request("POST", "/v1/admin/drawings", json=_body(options.body))
        if command == "update":
            body = _body(options.body) | ({"status": options.status} if options.status else {})
            return Request("PATCH", f"/v1/admin/drawings/{options.drawing_id}", json=body)
        return Request("POST", f"/v1/admin/drawings/{options.drawing_id}/execute")
    if group == "fulfillments":
        path = f"/v1/admin/fulfillments/{options.fulfillment_id}"
        if command == "ship":
            return Request("POST", f"{path}/ship", json=_body(options.body))
        return Request("PATCH", path, json=_body(options.body))
    if group == "wallets":
        return Request(
            "POST",
            f"/v1/admin/wallets/{options.user_id}/adjust",
            json={"points": options.points, "reason": options.reason},
        )
    return None


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
        if command == "erase":
            return Request("DELETE", path)
        return Request("PATCH", path, json={"disabled": command == "disable"})
    if group == "audit":
        params = {
            k: getattr(options, a)
            for k, a in (
                ("action", "action"),
                ("actor", "actor"),
                ("target_type", "target_type"),
                ("target", "target"),
                ("competition", "competition"),
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
    if group == "jobs":
        follow = "/v1/admin/jobs/" if options.wait else None
        return Request("GET", f"/v1/admin/jobs/{options.job_id}", follow=follow)
    call = _operations_request(options)
    assert call is not None, f"no request for {group} {command}"
    return call


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
        headers = {"Authorization": f"Bearer {token}"}
        answer = await http.request(
            call.method, call.path, params=call.params, json=call.json, headers=headers
        )
        if call.follow and answer.status_code < 400:
            answer = await _follow(http, headers, call.follow + answer.json()["id"], err)
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


async def _follow(
    http: httpx.AsyncClient, headers: dict[str, str], path: str, err: TextIO
) -> httpx.Response:
    """Poll a job until it ends, printing its progress whenever it moves; return the last answer."""
    shown = None
    while True:
        answer = await http.get(path, headers=headers)
        if answer.status_code >= 400:
            return answer
        job = answer.json()
        progress = (job["status"], job.get("done"), job.get("total"))
        if progress != shown:
            eta = job.get("eta_seconds")
            total = "?" if job.get("total") is None else job["total"]
            line = f"{job['status']}: {job.get('done', 0)}/{total}"
            err.write(line + (f", about {eta:.0f} s left" if eta else "") + "\n")
            shown = progress
        if job["status"] in ("succeeded", "failed"):
            return answer
        await asyncio.sleep(POLL_SECONDS)


def main() -> None:
    """Entry point of `podium`."""
    raise SystemExit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
