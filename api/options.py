"""OPTIONS answers every method of the path in ``Allow``.

Litestar 2 builds the automatic OPTIONS handler when a path's first handler is registered, so
its ``Allow`` names only that handler's methods (litestar-org/litestar#4169, fixed in 3.0).
:func:`allow_every_method` rebuilds it once every route is known.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute

__all__ = ["allow_every_method"]


def allow_every_method(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        current, _ = route.route_handler_map["OPTIONS"]
        if current.include_in_schema is not False:
            continue  # a handler of our own, not the automatic one
        handler = route.create_options_handler(route.path)
        handler.owner = current.owner
        handler.on_registration(app)
        model = handler.create_kwargs_model(path_parameters=route.path_parameters)
        route.route_handler_map["OPTIONS"] = (handler, model)
