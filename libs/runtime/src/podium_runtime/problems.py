"""RFC 7807 problem details with stable UPPER_SNAKE codes (SPEC §5)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium_runtime.failures import FailureLog, is_infrastructure_error
from podium_runtime.outbox import EventTooLarge

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait after a 503 caused by an outage.
RETRY_AFTER_SECONDS = 5

PROBLEM_JSON = "application/problem+json"

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}


class ServiceError(Exception):
    """A refused use case: a stable `code` and the HTTP `status` it is reported with.

    Services raise subclasses that declare `status` (compare Polar's `PolarError`);
    the runtime's one exception handler renders each as `application/problem+json`,
    so no route maps errors itself. `commit_effects` keeps what the unit of work
    wrote although the caller is refused (a revoked token family, say).
    """

    status: int = 400
    commit_effects: bool = False

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        if status is not None:
            self.status = status
        self.code = code
        self.title = title or HTTPStatus(self.status).phrase
        self.detail = detail or self.title
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the problem document."""
        doc: dict[str, Any] = {
            "type": f"https://podium.dev/problems/{self.code.lower().replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


class Problem(ServiceError):
    """A problem a transport raises with an explicit status (auth, limits, relayed answers)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            code, detail, status=status, title=title, errors=errors, extra=extra, headers=headers
        )


class NotFoundError(ServiceError):
    """The object does not exist or the caller may not see it (SPEC §8: 404, never 403)."""

    status = 404


class ForbiddenError(ServiceError):
    """The caller sees the object but may not do this to it."""

    status = 403


class ConflictError(ServiceError):
    """The object's state forbids the change."""

    status = 409


class InvalidError(ServiceError):
    """The request is well-formed but its values do not fit together."""

    status = 422


class ProblemDocument(BaseModel):
    """An RFC 7807 problem with a stable `code` (how every error is answered, SPEC §5)."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(examples=["VALIDATION_ERROR"])
    errors: list[dict[str, Any]] | None = None


_DESCRIBED = {
    400: "Malformed request, cursor or token",
    401: "Not authenticated or invalid credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "Validation failed; `errors` names each failed rule",
    429: "Rate limit exceeded; see `Retry-After`",
    500: "Unexpected error",
    503: "A service the request needs is unavailable; see `Retry-After`",
}

#: Documented on every route of every service (`ServiceRuntime.create_app`).
COMMON_PROBLEMS = (422, 500)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI `responses` entries documenting problem answers with these statuses."""
    return {
        status: {
            "model": ProblemDocument,
            "description": _DESCRIBED.get(status, HTTPStatus(status).phrase),
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


def problem_response(problem: ServiceError) -> JSONResponse:
    """Render a `Problem` as a response."""
    return JSONResponse(
        problem.body(), status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        errors.append(
            {
                "field": ".".join(loc) or None,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error, including unknown routes and validation, to problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return problem_response(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(
            Problem(exc.status_code, code, detail, headers=dict(exc.headers or {}))
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem_response(Problem(422, "VALIDATION_ERROR", detail, errors=errors))

    async def on_event_too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EventTooLarge)
        return problem_response(
            Problem(
                422,
                EventTooLarge.code,
                "The request would produce an event larger than the platform carries; "
                "send less data at once.",
                extra={"size": exc.size, "limit": exc.limit},
            )
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(exc)

    app.add_exception_handler(ServiceError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(EventTooLarge, on_event_too_large)
    app.add_exception_handler(Exception, on_unexpected)
    # Starlette answers handlers of `Exception` from its outermost middleware, past every
    # other one, so those answers would miss the request id and the security headers.
    # The boundary sits innermost (appended; `add_middleware` inserts outside it).
    app.user_middleware.append(Middleware(ErrorBoundaryMiddleware))


_outages = FailureLog(log, interval=10.0)


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """Answer an error no handler knows: 503 with `Retry-After` for an outage, else 500."""
    if is_infrastructure_error(exc):
        # An outage is not the request's fault: the same request succeeds later.
        _outages.log(logging.WARNING, "dependency unavailable; answering 503", exc)
        return problem_response(
            Problem(
                503,
                "SERVICE_UNAVAILABLE",
                "A dependency of this service is unavailable; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        )
    log.error("unhandled error", exc_info=exc)
    return problem_response(Problem(500, "INTERNAL_ERROR", "An unexpected error occurred."))


class ErrorBoundaryMiddleware:
    """Turn an exception no handler took into a problem answer, inside the other middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer its unexpected error unless the response has begun."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            await unexpected_error_response(exc)(scope, receive, send)
