"""The app API: the consumer app's backend reaches every capability at ``/v1`` here."""

from ._app import OPEN, ApiPart, api_app
from ._errors import (
    ApiError,
    Conflict,
    ErrorBody,
    ErrorDetail,
    ErrorInfo,
    IdempotencyConflict,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from ._keys import KEY_FILE, ApiKeys, configured_keys, generated_key
from ._operations import Operation, Operations, json_response, openapi
from ._tree import api_spec

__all__ = [
    "KEY_FILE",
    "OPEN",
    "ApiError",
    "ApiKeys",
    "ApiPart",
    "Conflict",
    "ErrorBody",
    "ErrorDetail",
    "ErrorInfo",
    "IdempotencyConflict",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotFound",
    "Operation",
    "Operations",
    "PayloadTooLarge",
    "RequestTimeout",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "api_app",
    "api_spec",
    "configured_keys",
    "generated_key",
    "json_response",
    "openapi",
]
