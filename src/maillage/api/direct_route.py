"""A FHIR route whose handler resolves its inputs itself, for the busiest interactions.

FastAPI resolves a route's dependencies anew for every request. For the slot search (the
router's JSON-only check, the bearer token's principal, the principal's repository) that
resolution was about a fifth of the server's CPU per uncached search in
``python -m bench booking`` (issue 23), more than the search's own Python work; without it a
search and book loop made 6 % more bookings.

A :class:`RepositoryRoute` keeps its endpoint's declared signature, so OpenAPI documents it as
before (and the schemathesis tests fuzz it). Its handler calls the same providers in the same
order: :func:`maillage.api.content.json_only`, :func:`maillage.api.deps.credentials`,
:func:`maillage.api.deps.repository_for`. Then it calls the endpoint with its path parameters,
the request and the repository. A route that declares anything else is refused when the app
is built, so no declared input is ever silently skipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from maillage.api import content, deps

#: The providers a repository route's endpoint may declare (the router's and its own).
PROVIDERS = frozenset({content.json_only, deps.repository})


class RepositoryRoute(APIRoute):
    """An API route called as ``endpoint(**path_params, request=..., repository=...)``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        self._check_declared()
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            await content.json_only(request)
            repository = deps.repository_for(request, await deps.credentials(request))
            answer: Response = await endpoint(
                **request.path_params, request=request, repository=repository
            )
            return answer

        return handle

    def _check_declared(self) -> None:
        """Refuse an endpoint whose inputs the handler would not give (query, header, cookie
        or body parameters, a provider other than :data:`PROVIDERS`) or that is not a
        coroutine function (the handler awaits it on the event loop, FastAPI would have sent a
        plain function to a worker thread)."""
        dependant = self.dependant
        others = (
            dependant.query_params
            + dependant.header_params
            + dependant.cookie_params
            + dependant.body_params
        )
        calls = {d.call for d in dependant.dependencies}
        if (
            others
            or not calls <= PROVIDERS
            or dependant.request_param_name != "request"
            or not inspect.iscoroutinefunction(self.endpoint)
        ):
            raise TypeError(
                f"{self.path}: a repository route is a coroutine function that takes its path "
                "parameters, the request and the repository only"
            )
