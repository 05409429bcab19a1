"""Pyramid's multi-views, choosing a view without raising an exception per miss.

An endpoint has one view per HTTP method (Cornice registers them so), which
Pyramid groups in a multi-view that calls each in turn until one does not raise
``PredicateMismatch``.  Each miss builds that exception, a whole WebOb response:
a PATCH tried after GET, PUT and HEAD built three, a twentieth of its CPU.  The
views carry ``__predicated__``, the check that would raise; asking it first
skips the views whose predicates refuse the request.
"""

from __future__ import annotations

from typing import Any

from pyramid.config.views import MultiView
from pyramid.exceptions import PredicateMismatch
from pyramid.interfaces import IMultiView
from pyramid.registry import Registry


class CheckingMultiView(MultiView):
    """A :class:`MultiView` that skips views whose predicates refuse the request."""

    def __call__(self, context: Any, request: Any) -> Any:
        for _, view, _ in self.get_views(request):
            predicated = getattr(view, "__predicated__", None)
            if predicated is not None and not predicated(context, request):
                continue
            try:
                return view(context, request)
            except PredicateMismatch:
                # Predicates that change their mind, or a view raising it itself.
                continue
        raise PredicateMismatch(self.name)


def use_checking_multiviews(registry: Registry) -> None:
    """Make every registered multi-view a :class:`CheckingMultiView`.

    Call it once the configuration is committed: multi-views are built while
    views are added.
    """
    for registration in registry.registeredAdapters():
        view = registration.factory
        if registration.provided is IMultiView and type(view) is MultiView:
            view.__class__ = CheckingMultiView
