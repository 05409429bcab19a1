"""Exception views: whatever goes wrong, the client gets Kinto's JSON error shape."""

from __future__ import annotations

import logging

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import ERRORS, http_error
from kinto_clone.core.storage import BackendError, IntegrityError
from kinto_clone.core.transaction import WriteConflict

logger = logging.getLogger(__name__)


def _is_json(response: Response) -> bool:
    return response.content_type == "application/json"


def forbidden(context: httpexceptions.HTTPForbidden, request: Request) -> Response:
    """401 for anonymous callers (so clients prompt for credentials), 403 otherwise."""
    if request.prefixed_userid is None:
        response = context
        if not _is_json(context) or context.code != 401:
            response = http_error(
                httpexceptions.HTTPUnauthorized(),
                errno=ERRORS.MISSING_AUTH_TOKEN,
                message="Please authenticate yourself to use this endpoint.",
            )
        response.headers.extend(request.registry.authentication.forget(request))
        return response
    if _is_json(context):
        return context
    return http_error(
        httpexceptions.HTTPForbidden(),
        errno=ERRORS.FORBIDDEN,
        message="This user cannot access this resource.",
    )


def not_found(context: httpexceptions.HTTPNotFound, request: Request) -> Response:
    """404s, plus the trailing-slash redirections Kinto performs on unknown URLs."""
    if _is_json(context):
        return context
    settings = request.registry.settings
    prefix = f"/{request.registry.route_prefix}"
    path = request.path
    if not (path == prefix or path.startswith(prefix + "/")):
        return http_error(
            httpexceptions.HTTPNotFound(),
            errno=ERRORS.VERSION_NOT_AVAILABLE,
            message="The requested API version is not available on this server.",
        )
    if settings["trailing_slash_redirect_enabled"]:
        query = request.query_string
        suffix = f"?{query}" if query else ""
        target = None
        if path == prefix:
            target = f"{prefix}/{suffix}"
        elif path.endswith("/") and path != prefix + "/":
            target = path.rstrip("/") + suffix
        if target is not None:
            redirect = httpexceptions.HTTPTemporaryRedirect(location=target)
            ttl = settings["trailing_slash_redirect_ttl_seconds"]
            if ttl >= 0:
                redirect.cache_expires(ttl)
            return redirect
    return http_error(
        httpexceptions.HTTPNotFound(),
        errno=ERRORS.MISSING_RESOURCE,
        message="The resource you are looking for could not be found.",
    )


def method_not_allowed(context: httpexceptions.HTTPMethodNotAllowed, request: Request) -> Response:
    if _is_json(context):
        return context
    return http_error(
        context, errno=ERRORS.METHOD_NOT_ALLOWED, message="Method not allowed on this endpoint."
    )


def service_unavailable(context: Exception, request: Request) -> Response:
    if isinstance(context, httpexceptions.HTTPException) and _is_json(context):
        response = context
    else:
        if isinstance(context, BackendError):
            logger.critical("backend failure: %s", context)
        response = http_error(
            httpexceptions.HTTPServiceUnavailable(),
            errno=ERRORS.BACKEND,
            message="Service temporary unavailable due to overloading or maintenance, "
            "please retry later.",
        )
    response.headers["Retry-After"] = str(request.registry.settings["retry_after_seconds"])
    return response


def integrity_error(context: IntegrityError, request: Request) -> Response:
    response = http_error(
        httpexceptions.HTTPConflict(),
        errno=ERRORS.CONSTRAINT_VIOLATED,
        message="Integrity constraint violated, please retry.",
    )
    response.headers["Retry-After"] = str(request.registry.settings["retry_after_seconds"])
    return response


def http_exception(context: httpexceptions.HTTPException, request: Request) -> Response:
    """Any other HTTP exception (304, 412, 400...) is already the response."""
    if context.code >= 400 and not _is_json(context):
        return http_error(context, message=context.explanation or context.title)
    return context


def unexpected_error(context: Exception, request: Request) -> Response:
    """A bug: log it with the request, answer 500 without any internals."""
    # The raw path: decoding it is one of the things that can fail.
    path = request.environ.get("PATH_INFO", "")
    logger.error("unexpected error on %s %s", request.method, path, exc_info=context)
    return http_error(
        httpexceptions.HTTPInternalServerError(),
        message="A programmatic error occurred, developers have been informed.",
        info=request.registry.settings["error_info_link"],
    )


def includeme(config: Configurator) -> None:
    add = config.add_exception_view
    add(unexpected_error, context=Exception)
    add(http_exception, context=httpexceptions.HTTPException)
    add(forbidden, context=httpexceptions.HTTPForbidden)
    add(method_not_allowed, context=httpexceptions.HTTPMethodNotAllowed)
    add(service_unavailable, context=httpexceptions.HTTPServiceUnavailable)
    add(service_unavailable, context=BackendError)
    add(integrity_error, context=IntegrityError)
    # Run again by the transaction tween; answered only should the run that
    # locks first conflict too, which no backend does.
    add(integrity_error, context=WriteConflict)
    config.add_notfound_view(not_found)
