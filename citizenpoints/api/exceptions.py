from rest_framework.response import Response
from rest_framework.views import exception_handler

from citizenpoints.exceptions import ApplicationError

# Business refusals are 400 unless their code says more; clients match on `code`, never on the message.
STATUS_BY_CODE = {
    "invalid_key": 401,
    "key_revoked": 401,
    "permission_denied": 403,
    "source_inactive": 403,
    "not_found": 404,
    "request_in_progress": 409,
    "lock_timeout": 409,
    "idempotency_key_reused": 422,
}
RETRY_AFTER_SECONDS = {"request_in_progress": 5, "lock_timeout": 2}


def application_error_handler(exc, context):
    """Every error as `{"code", "message", "extra"}`: ApplicationError by its code, DRF's own by theirs."""
    if isinstance(exc, ApplicationError):
        response = Response(
            {"code": exc.code, "message": exc.message, "extra": exc.extra}, status=STATUS_BY_CODE.get(exc.code, 400)
        )
        if exc.code in RETRY_AFTER_SECONDS:
            response["Retry-After"] = str(RETRY_AFTER_SECONDS[exc.code])
        return response
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"code": getattr(detail, "code", "error"), "message": str(detail), "extra": {}}
    elif response is not None:  # field validation errors
        response.data = {"code": "invalid", "message": "The request is not valid.", "extra": {"fields": response.data}}
    return response
