"""GET /v1/competitions/{id}/sample-submission: the expected header and ids (SPEC §10.2).

Participants follow the answer key's header and cover its ids (SPEC §7.1); this
file shows both, with a neutral prediction on every row, so they (and the web
app's pre-check before upload) know exactly what the scorer expects. It is
built from the answer key the gateway stored, once scoring reports it ready.
Only the owner and accepted participants may read it.
"""

from __future__ import annotations

import csv
import io
import uuid

from fastapi import APIRouter
from fastapi.responses import Response
from podium_runtime.blobs import BlobNotFoundError
from podium_runtime.problems import Problem

from podium_gateway.auth import UserDep
from podium_gateway.clients.competitions import CompetitionsDep, is_sponsor
from podium_gateway.clients.scoring import ScoringDep
from podium_gateway.uploads import BlobDep, answer_key_blob_key

router = APIRouter(tags=["submissions"])

#: Metrics scoring probabilities get 0.5 as the neutral value; the others 0.
PROBABILITY_METRICS = frozenset({"log_loss", "accuracy", "f1", "auc_roc"})


@router.get(
    "/v1/competitions/{competition_id}/sample-submission",
    summary="A CSV with the expected header and every id (participants and owner)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def sample_submission(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    blobs: BlobDep,
    user: UserDep,
) -> Response:
    """The answer key's two column names, then one row per id with a neutral prediction."""
    competition = await client.competition(competition_id, user)
    if not competition.is_participant and not is_sponsor(competition, user):
        raise Problem(403, "NOT_ENROLLED", "Join the competition to see its sample submission.")
    state = await scoring.answer_key(competition_id)
    key = state.json() if state.status_code == 200 else {}
    if key.get("status") != "ready":
        raise Problem(404, "ANSWER_KEY_NOT_READY", "The competition has no usable answer key yet.")
    try:
        data = await blobs.get(answer_key_blob_key(competition_id, key["sha256"]))
    except BlobNotFoundError:
        missing = "The answer key file is not available."
        raise Problem(404, "ANSWER_KEY_NOT_READY", missing) from None
    value = "0.5" if competition.metric in PROBABILITY_METRICS else "0"
    body = _sample(data, key["id_column"], key["target_column"], value)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="sample-{competition_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


def _sample(key_file: bytes, id_column: str, target_column: str, value: str) -> str:
    """Return the sample CSV for an answer key (ids in the key's order)."""
    text = key_file.decode("utf-8-sig")
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t", "|") if d in first_line), ",")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in next(rows)]
    position = header.index(id_column)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([id_column, target_column])
    for row in rows:
        if len(row) > position and row[position].strip():
            writer.writerow([row[position].strip(), value])
    return out.getvalue()
