from rest_framework.response import Response
from rest_framework.views import exception_handler

from citizenpoints.exceptions import ApplicationError


def application_error_handler(exc, context):
    """Business refusals become `{"code", "message", "extra"}` with 400; everything else as DRF does it."""
    if isinstance(exc, ApplicationError):
        return Response({"code": exc.code, "message": exc.message, "extra": exc.extra}, status=400)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"code": getattr(detail, "code", "error"), "message": str(detail), "extra": {}}
    return response
