"""Firewall rules as data, kept in chains of the suite's own.

Each named rule set owns one chain per (table, parent chain). A boot-time
unit runs a generated script that rebuilds those chains and hooks each into
its parent once; nothing else in the host's firewall is touched or flushed.
Allow-lists hook in at the top of their parent, deny-lists at the bottom, so
a later phase can open a port in front of an earlier default deny.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .steps import Command, File, Service, Step


# The match a deny by port carries: it closes the port to new connections and
# lets the replies to the host's own connections (from any source port) in.
NEW_ONLY = ("-m", "conntrack", "--ctstate", "NEW")


@dataclass(frozen=True)
class Chain:
    table: str                 # filter or nat
    parent: str                # INPUT, FORWARD, POSTROUTING ...
    rules: Sequence[Sequence[str]]   # iptables match + target words, one list per rule
    position: str = "top"      # where the jump sits in the parent: top or bottom
    family: str = "ipv4"       # ipv4 (iptables) or ipv6 (ip6tables)

    @property
    def command(self) -> str:
        return {"ipv4": "iptables", "ipv6": "ip6tables"}[self.family]


@dataclass(frozen=True)
class RuleSet:
    name: str                  # short: becomes chain and unit names
    chains: Sequence[Chain]

    def chain_name(self, chain: Chain) -> str:
        return f"DPL-{self.name.upper()}-{chain.parent}"  # iptables allows 28 characters; one per family

    @property
    def script_path(self) -> str:
        return f"/usr/local/sbin/deploy-firewall-{self.name}"

    @property
    def unit(self) -> str:
        return f"deploy-firewall-{self.name}.service"

    def checks(self) -> list[str]:
        """One iptables -C per rule and per jump: all pass when the rules are live."""
        out = []
        for chain in self.chains:
            name, t, ipt = self.chain_name(chain), chain.table, chain.command
            out += [f"{ipt} -w -t {t} -C {name} {shlex.join(r)}" for r in chain.rules]
            out.append(f"{ipt} -w -t {t} -C {chain.parent} -j {name}")
        return out

    def script(self) -> str:
        lines = ["#!/bin/sh", f"# Written by the deploy suite: rule set {self.name!r}.",
                 "# Rebuilds only its own chains; leaves every other rule alone.", "set -e"]
        for chain in self.chains:
            name, t, ipt = self.chain_name(chain), chain.table, chain.command
            hook = "-I {} 1".format(chain.parent) if chain.position == "top" else f"-A {chain.parent}"
            lines += [f"{ipt} -w -t {t} -N {name} 2>/dev/null || true", f"{ipt} -w -t {t} -F {name}"]
            lines += [f"{ipt} -w -t {t} -A {name} {shlex.join(r)}" for r in chain.rules]
            lines.append(f"{ipt} -w -t {t} -C {chain.parent} -j {name} 2>/dev/null || {ipt} -w -t {t} {hook} -j {name}")
        return "\n".join(lines) + "\n"

    def unit_text(self) -> str:
        return (f"[Unit]\nDescription=Firewall rule set {self.name} (deploy suite)\n"
                "After=network-pre.target\nBefore=network.target\n\n"
                f"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart={self.script_path}\n\n"
                "[Install]\nWantedBy=multi-user.target\n")


def firewall_steps(script: str, rules: RuleSet) -> list[Step]:
    """Steps that make a rule set live now and at every boot."""
    from .steps import Packages

    script_file = File(script, rules.script_path, rules.script(), mode="0755")
    return [
        Packages(script, ["iptables"]),
        script_file,
        File(script, f"/etc/systemd/system/{rules.unit}", rules.unit_text()),
        # Enabled for boot; the next step applies the rules now, so a rule lost
        # at run time is noticed even while the oneshot unit still reads active.
        Service(script, rules.unit, running=None, title=f"{rules.unit} enabled at boot"),
        Command(script, rules.script_path, unless=" && ".join(rules.checks()),
                title=f"firewall rules {rules.name} live"),
    ]
