"""The registry's write side: one module per aggregate (``handle`` takes any of its
commands; a command that needs more than the aggregate, e.g. a run request, has its own
function).

A route parses the request into a command and calls one handler here; the handler loads
what the decision needs (the aggregate under its stream's lock, lookups of other
aggregates' read models), asks the pure domain (``services/registry/domain``) and has the
events appended and projected (``commands.CommandHandler.execute``). Handlers raise domain
errors only; the web edge maps them to problem documents (``problem_types.py``).
"""
