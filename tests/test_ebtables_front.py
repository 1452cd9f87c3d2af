"""The ebtables front end against a fake ebtables-nft that behaves like the
recorded one (tests/data/ebtables/, from ebtables-nft 1.8.9 on a 6.18 kernel):
an `among` rule cannot be deleted by its spec (exit 4), by its number it can."""
from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from deploy.phases import ebtables_front as front
from deploy.phases import ebtables_repair
from deploy.phases import Context
from deploy.secrets import Secrets

DATA = Path(__file__).parent / "data" / "ebtables"
ERROR = (DATA / "delete-by-spec-error.txt").read_text()


class FakeEbtables:
    """Chains of one table as rule texts in ebtables' listing form."""

    def __init__(self, chains: dict[str, list[str]]):
        self.chains = {k: list(v) for k, v in chains.items()}
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.calls.append(argv)
        words = [w for w in argv if w != "--concurrent"]
        if words[:2] == ["-t", "nat"]:
            words = words[2:]
        op, chain, rest = words[0], words[1], words[2:]
        rules = self.chains.get(chain)
        if op == "-N":
            self.chains[chain] = []
            return self.done()
        if rules is None:
            return self.done(1, f"ebtables: Chain '{chain}' doesn't exist.\n")
        if op == "-X":
            del self.chains[chain]
        elif op == "-F":
            rules.clear()
        elif op == "-A":
            # ebtables lists MACs without leading zeros
            rules.append(re.sub(r"(?<![0-9a-f])0([0-9a-f])(?![0-9a-f])", r"\1", " ".join(rest)))
        elif op == "-L":
            listing = "".join(f"{i} {r}\n" for i, r in enumerate(rules, 1))
            return self.done(out=f"Bridge table: nat\n\nBridge chain: {chain}, entries: {len(rules)}, "
                                 f"policy: RETURN\n{listing}")
        elif op == "-D" and len(rest) == 1 and rest[0].isdigit():
            del rules[int(rest[0]) - 1]
        elif op == "-D":
            text = " ".join(rest)
            if "--among-src" in text:
                return self.done(4, ERROR if text in rules else
                                 "ebtables: Bad rule (does a matching rule exist in that chain?)\n")
            if text not in rules:
                return self.done(1, "ebtables: Bad rule (does a matching rule exist in that chain?)\n")
            rules.remove(text)
        return self.done()

    @staticmethod
    def done(rc: int = 0, err: str = "", out: str = "") -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess([], rc, out, err)


def recorded_chain() -> list[str]:
    listing = (DATA / "list-chain-numbered.txt").read_text()
    return [text for _, text in sorted(front.listed_rules(listing).items())]


def run_front(fake: FakeEbtables, argv: list[str], tmp_path: Path) -> tuple[int, str]:
    err = io.StringIO()
    rc = front.main(argv, run=fake, out=io.StringIO(), err=err, lock_path=str(tmp_path / "lock"))
    return rc, err.getvalue()


def test_recorded_listing_is_parsed_by_number():
    assert recorded_chain() == ["-i tapy --among-src fa:16:3e:0:0:3 -j RETURN",
                                "-i tapx --among-src fa:16:3e:0:0:1,fa:16:3e:0:0:2 -j RETURN",
                                "-j DROP"]
    assert front.listed_rules("1. -p ARP -j ACCEPT\n") == {1: "-p ARP -j ACCEPT"}   # legacy form


def test_neutrons_delete_by_listed_text_becomes_a_delete_by_number(tmp_path):
    fake = FakeEbtables({"neutronMAC-tapx": recorded_chain()})
    # what the agent sends: the rule's text from `ebtables -L`, split
    rule = "-i tapx --among-src fa:16:3e:0:0:1,fa:16:3e:0:0:2 -j RETURN".split()
    rc, err = run_front(fake, ["-t", "nat", "--concurrent", "-D", "neutronMAC-tapx", *rule], tmp_path)
    assert (rc, err) == (0, "")
    assert fake.chains["neutronMAC-tapx"] == ["-i tapy --among-src fa:16:3e:0:0:3 -j RETURN", "-j DROP"]
    assert ["-t", "nat", "-D", "neutronMAC-tapx", "2"] in fake.calls
    assert not any(c.startswith("deploy-canon") for c in fake.chains)


def test_a_spec_spelled_otherwise_is_found_through_a_scratch_chain(tmp_path):
    fake = FakeEbtables({"neutronMAC-tapx": recorded_chain()})
    rule = "-i tapy --among-src fa:16:3e:00:00:03 -j RETURN".split()   # leading zeros: not the listed text
    rc, _ = run_front(fake, ["-t", "nat", "-D", "neutronMAC-tapx", *rule], tmp_path)
    assert rc == 0
    assert fake.chains["neutronMAC-tapx"] == ["-i tapx --among-src fa:16:3e:0:0:1,fa:16:3e:0:0:2 -j RETURN",
                                              "-j DROP"]
    assert set(fake.chains) == {"neutronMAC-tapx"}, "the scratch chain is removed"


def test_a_rule_that_is_not_there_keeps_the_stock_error(tmp_path):
    fake = FakeEbtables({"neutronMAC-tapx": recorded_chain()})
    rule = "-i tapz --among-src fa:16:3e:0:0:9 -j RETURN".split()
    rc, err = run_front(fake, ["-t", "nat", "-D", "neutronMAC-tapx", *rule], tmp_path)
    assert rc == 4 and "does a matching rule exist" in err
    assert len(fake.chains["neutronMAC-tapx"]) == 3


def test_only_deletes_by_spec_are_interpreted():
    assert front.split_delete(["-t", "nat", "-L"]) is None
    assert front.split_delete(["-t", "nat", "-D", "PREROUTING", "3"]) is None
    assert front.split_delete(["-t", "nat", "-D", "PREROUTING", "2:4"]) is None
    assert front.split_delete(["-t", "nat", "-D", "C", "-j", "DROP", "--concurrent"]) == (
        ["-t", "nat", "--concurrent"], "C", ["-j", "DROP"])


def test_everything_else_is_the_stock_tool_unchanged(monkeypatch):
    execs = []
    monkeypatch.setattr(front.os, "execv", lambda path, argv: execs.append(argv) or (_ for _ in ()).throw(SystemExit(0)))
    with pytest.raises(SystemExit):
        front.main(["-t", "nat", "-L"], run=lambda a: pytest.fail("no fallback for a listing"))
    assert execs == [[front.REAL, "-t", "nat", "-L"]]


@pytest.mark.parametrize("answer, installed", [("broken", True), ("works", False), ("unavailable", False)])
def test_the_repair_follows_the_measured_fact(default_inventory, answer, installed):
    inv = default_inventory
    host = inv.host("compute2")
    ctx = Context(inv, Secrets.placeholders(), facts={host.name: {"ebtables_among_delete": answer}})
    steps = ebtables_repair.steps(ctx, host, "04-neutron-agent-config")
    titles = " | ".join(s.title for s in steps)
    assert (ebtables_repair.FRONT + ":" in titles) is installed
    assert f"deleting an among rule by its spec {answer}" in titles
    if not installed:
        assert "stock tool" in titles
