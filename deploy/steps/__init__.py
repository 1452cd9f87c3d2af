"""Idempotent steps: each asks the host (named facts, deploy/facts.py), compares
with what is wanted, and emits only the actions needed, or says why nothing is needed.

A step is data plus small functions:
  facts()            the facts it reads (typed: a command and a parser each)
  diff(values, done) -> Change: the actions to take, and the reason; `values`
                     maps each fact to its parsed value
`done` holds the keys of steps that changed earlier in the same phase on the
same host, so a service can restart when its configuration changed.
`fresh()` is what the step does on a host where nothing is in place yet: the
plan (`pytest --plan`) prints it without connecting to anything.
"""
from .base import Action, Change, Refused, Step, no_change
from .commands import Await, Command
from .files import Block, Edit, File, Ini, Line, ini_set
from .packages import (DPKG_INTERRUPTED, DPKG_LOCK, DPKG_LOCK_HOLDER, GUARD_MARK, HOLDS, LEGACY_GUARD,
                       LOCK_FREE, LOCK_WAIT_S, POLICY_RC_D, Packages, guard_in_place, guard_script, held)
from .services import Account, Service, Sysctl

__all__ = ["Action", "Change", "Refused", "Step", "no_change", "Await", "Command", "Block", "Edit", "File", "Ini",
           "Line", "ini_set", "DPKG_INTERRUPTED", "DPKG_LOCK", "DPKG_LOCK_HOLDER", "GUARD_MARK", "HOLDS", "LEGACY_GUARD",
           "LOCK_FREE", "LOCK_WAIT_S", "POLICY_RC_D", "Packages", "guard_in_place", "guard_script", "held",
           "Account", "Service", "Sysctl"]
