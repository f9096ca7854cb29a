"""Compatibility for receive-hook shims written before gitguard 0.2: they run
``from gitguard.cli_server import hook_main``. New shims import
:mod:`gitguard.server.hook` directly; `guard server install` again rewrites old ones."""

from gitguard.server.hook import hook_main

__all__ = ["hook_main"]
