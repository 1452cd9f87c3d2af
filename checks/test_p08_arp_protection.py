"""Checks of the ARP protection the linuxbridge agent puts on every port with
port security on: on every host that runs the agent, `ebtables` (whatever
/usr/sbin/ebtables is there) deletes a rule with an `among` match by its spec,
as the agent does when a port moves. Tried in a scratch chain of the check's
own, never in Neutron's."""
import pytest

from deploy.phases.ebtables_repair import RECORD

pytestmark = [pytest.mark.p08, pytest.mark.usefixtures("phase_p08")]

CHAIN = "deploy-check-among"
RULE = "-i deploy1 --among-src fa:16:3e:00:00:01,fa:16:3e:00:00:02 -j RETURN"


@pytest.mark.compute
def test_an_among_rule_is_deleted_by_its_spec(host):
    name = host.backend.hostname
    t = "ebtables -t nat --concurrent"
    setup = host.run(f"{t} -N {CHAIN} 2>/dev/null || {t} -F {CHAIN}; {t} -A {CHAIN} {RULE}")
    try:
        assert setup.rc == 0, f"{name}: could not add an among rule to a scratch chain: {setup.stderr.strip()}"
        deleted = host.run(f"{t} -D {CHAIN} {RULE}")
        left = host.run(f"ebtables -t nat -L {CHAIN} --Ln").stdout
        record = host.run(f"cat {RECORD}").stdout.strip()
        assert deleted.rc == 0 and "--among-src" not in left, (
            f"{name}: `ebtables -D` of an among rule by its spec failed (exit {deleted.rc}: "
            f"{deleted.stderr.strip()[-200:]}); the linuxbridge agent would loop on it and the host's ports "
            f"never go ACTIVE. The deploy's probe recorded {record or 'nothing'} in {RECORD}; "
            f"`update-alternatives --query ebtables` shows what /usr/sbin/ebtables is. Re-run the deploy.")
    finally:
        host.run(f"{t} -F {CHAIN}; {t} -X {CHAIN}")


@pytest.mark.compute
def test_the_probe_answer_is_recorded(host):
    record = host.run(f"cat {RECORD}")
    assert record.rc == 0 and record.stdout.strip() in ("among_delete=works", "among_delete=broken"), (
        f"{host.backend.hostname}: {RECORD} says {record.stdout.strip() or 'nothing'}: the deploy's probe of "
        "ebtables-nft did not run or found no nat table to probe in")
