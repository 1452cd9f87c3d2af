#!/usr/bin/python3
"""Runs ON a compute or gateway host as /usr/sbin/ebtables (through Debian's
alternatives, installed by the suite only where the defect was measured):
ebtables-nft, except that a rule deleted by its full spec is, when that fails,
deleted by its number instead.

The defect: ebtables-nft 1.8.9 (Debian 12) on kernels >= 6.3 cannot delete a
rule with an `among` match by its spec (the delete also sends an anonymous set
the kernel rejects: exit 4, "RULE_DELETE failed (Invalid argument)"), while the
same delete by rule number works. Neutron's linuxbridge agent deletes its ARP
protection rules (`--among-src MAC,`) by spec whenever a port moves or its
protection is rewritten; the agent then retries forever and the host's later
ports never go ACTIVE.

How the number is found: the spec is added to a scratch chain of our own in the
same table and listed there, so ebtables itself prints it in its canonical
form; the first rule of CHAIN listed with the same text is deleted by number.
Everything else, and every delete that works, is ebtables-nft untouched.
"""
import fcntl
import os
import re
import subprocess
import sys

REAL = "/usr/sbin/ebtables-nft"
LOCK = "/run/lock/ebtables-front.lock"
DELETE = ("-D", "--delete")
NOT_SPEC = {"--concurrent"}   # global flags that may stand anywhere


def split_delete(argv):
    """(global options, chain, rule spec) of a delete by spec; None otherwise."""
    for i, word in enumerate(argv):
        if word in DELETE and i + 1 < len(argv):
            chain = argv[i + 1]
            rest = argv[i + 2:]
            spec = [w for w in rest if w not in NOT_SPEC]
            options = argv[:i] + [w for w in rest if w in NOT_SPEC]
            # `-D CHAIN N` and `-D CHAIN N:M` are deletes by number already
            if not spec or (len(spec) == 1 and spec[0].replace(":", "").lstrip("-").isdigit()):
                return None
            return options, chain, spec
    return None


def table_args(options):
    """The -t/--table words of the global options (default: filter)."""
    for i, word in enumerate(options):
        if word in ("-t", "--table") and i + 1 < len(options):
            return ["-t", options[i + 1]]
        if word.startswith("--table="):
            return ["-t", word.split("=", 1)[1]]
    return []


NUMBERED = re.compile(r"^\s*(\d+)\.?\s+(\S.*?)\s*$")


def listed_rules(listing):
    """{number: rule text} from `ebtables -L CHAIN --Ln` ("1 -p ARP ..."; legacy
    ebtables writes "1. -p ARP ...")."""
    rules = {}
    for line in listing.splitlines():
        found = NUMBERED.match(line)
        if found:
            rules[int(found.group(1))] = found.group(2)
    return rules


def canonical(run, table, spec):
    """The rule's text as ebtables lists it, from a scratch chain of our own."""
    scratch = f"deploy-canon-{os.getpid()}"[:31]
    run(table + ["-N", scratch])
    try:
        added = run(table + ["-A", scratch] + spec)
        if added.returncode != 0:
            return None
        rules = listed_rules(run(table + ["-L", scratch, "--Ln"]).stdout)
        return rules.get(1)
    finally:
        run(table + ["-F", scratch])
        run(table + ["-X", scratch])


def delete_by_number(run, options, chain, spec):
    """Delete the first rule of CHAIN equal to SPEC by its number; its exit code,
    or None when no such rule is listed (the original error then stands)."""
    table = table_args(options)
    rules = sorted(listed_rules(run(table + ["-L", chain, "--Ln"]).stdout).items())
    # Neutron deletes by the text it listed: most often the spec is that text
    wanted = [" ".join(spec)]
    if not any(listed == wanted[0] for _, listed in rules):
        wanted.append(canonical(run, table, spec))
    for number, listed in rules:
        if listed in wanted:
            return run(table + ["-D", chain, str(number)]).returncode
    return None


def run_real(args):
    return subprocess.run([REAL, *args], capture_output=True, text=True)


def main(argv, run=run_real, out=sys.stdout, err=sys.stderr, lock_path=LOCK):
    parts = split_delete(argv)
    if parts is None:
        os.execv(REAL, [REAL, *argv])
    first = run(argv)
    if first.returncode == 0:
        out.write(first.stdout)
        err.write(first.stderr)
        return 0
    with open(lock_path, "w") as lock:
        # number and delete must see the same chain: one fallback at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        rc = delete_by_number(run, *parts)
    if rc is None:
        out.write(first.stdout)
        err.write(first.stderr)
        return first.returncode
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
