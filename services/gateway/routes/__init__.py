"""The gateway's routes, one module per concern. Each module has a ``router``;
:func:`services.gateway.app.gateway_router` includes them. Route modules share steps only
through :mod:`._calls` and the :class:`~services.gateway.gateway.Gateway`, never each other.
"""
