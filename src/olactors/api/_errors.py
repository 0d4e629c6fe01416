"""The app API's errors: each a status, a stable ``type`` the app can branch on, and details.

::

    HttpError (olactors.http: status, retry_after_s)
    └── ApiError                 {"error": {"type", "message", "details"}}
        ├── InvalidRequest       400 invalid_request: not JSON, a bad query parameter
        ├── Unauthorized         401 unauthorized: no key, or not one of ours
        ├── NotFound             404 not_found: no such path, or no such thing
        ├── MethodNotAllowed     405 method_not_allowed
        ├── RequestTimeout       408 request_timeout: the body was too slow; send it again
        ├── Conflict             409 conflict: the state forbids it (and idempotency_conflict)
        ├── PayloadTooLarge      413 payload_too_large
        ├── ValidationFailed     422 validation_error: JSON of the wrong shape; details say where
        └── Unavailable          503 unavailable: the store did not answer; retry after a while

Every one is the caller's to act on; a 500 (``internal``) is only ever a bug of ours.
"""

from __future__ import annotations

import msgspec

from ..http import HttpError


class ErrorDetail(msgspec.Struct, frozen=True):
    """What went wrong, and where in the request (``$.targets[0].channel``, a parameter)."""

    message: str
    at: str | None = None


class ErrorInfo(msgspec.Struct, frozen=True):
    type: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(msgspec.Struct, frozen=True):
    """The one shape of every error answer."""

    error: ErrorInfo


class ApiError(HttpError):
    status = 400
    type = "invalid_request"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> ErrorBody:
        return ErrorBody(ErrorInfo(self.type, self.message, self.details))


class InvalidRequest(ApiError):
    status, type = 400, "invalid_request"


class Unauthorized(ApiError):
    status, type = 401, "unauthorized"


class NotFound(ApiError):
    status, type = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, type = 405, "method_not_allowed"


class Conflict(ApiError):
    status, type = 409, "conflict"


class IdempotencyConflict(Conflict):
    type = "idempotency_conflict"


class RequestTimeout(ApiError):
    """The body did not arrive in time: the same request may be sent again."""

    status, type = 408, "request_timeout"


class PayloadTooLarge(ApiError):
    status, type = 413, "payload_too_large"


class ValidationFailed(ApiError):
    status, type = 422, "validation_error"


class Unavailable(ApiError):
    status, type = 503, "unavailable"
    retry_after_s = 5.0


def error_status(status: int, message: str) -> ApiError:
    """The API error for an HTTP status the framework chose (a 404 route, a 405, a 413)."""
    known: dict[int, type[ApiError]] = {
        400: InvalidRequest,
        401: Unauthorized,
        404: NotFound,
        405: MethodNotAllowed,
        408: RequestTimeout,
        409: Conflict,
        413: PayloadTooLarge,
        422: ValidationFailed,
        503: Unavailable,
    }
    kind = known.get(status, InvalidRequest)
    return kind(message)


def from_validation(exc: msgspec.ValidationError | msgspec.DecodeError) -> ApiError:
    """A body msgspec refused: not JSON at all (400), or JSON of the wrong shape (422)."""
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return InvalidRequest("the body is not JSON", [ErrorDetail(text)])
    message, _, where = text.partition(" - at `")
    return ValidationFailed(
        "the body does not match the operation's schema",
        [ErrorDetail(message, where.rstrip("`") or None)],
    )
