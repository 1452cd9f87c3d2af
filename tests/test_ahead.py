"""The real phases' early steps (deploy/ahead.py): what each needs before it may begin."""
from deploy.inventory import load_inventory
from deploy.phases import Context, all_phases
from deploy.phases.p06_openstack_all import debconf_steps
from deploy.secrets import Secrets
from deploy.steps import Packages

INV = load_inventory("inventory.yaml", check_keys=False)
CTX = Context(INV, Secrets.placeholders())
CTX.facts.update({h.name: {"virt_type": "qemu"} for h in INV.hosts})
PHASES = {p.id: p for p in all_phases()}


def test_every_early_install_loads_the_debconf_answers_first_and_waits_for_the_numeric_ids():
    debconf = [s.key for s in debconf_steps()]
    for phase in PHASES.values():
        for host in phase.targets(INV) if phase.early else ():
            early = phase.early(CTX, host)
            if early:
                assert [s.key for s in early[:len(debconf)]] == debconf, f"{phase.id} on {host.name}"
                assert all(isinstance(s, Packages) for s in early[len(debconf):]), f"{phase.id} on {host.name}"
                assert phase.early_after >= 4, f"{phase.id}: phase 04 gives nova, cinder, glance their ids"


def test_the_computes_early_installs_wait_for_the_hypervisor_phase_05_chose():
    assert PHASES["p08"].early_after >= 5 and PHASES["p09"].early_after >= PHASES["p08"].early_after


def test_the_controllers_early_install_is_phase_07s_own_transaction():
    controller = INV.controller
    early = PHASES["p07"].early(CTX, controller)
    first = PHASES["p07"].steps(CTX, controller)[0]
    assert early[-1].key == first.key and early[-1].names == first.names
    assert not any(PHASES["p07"].early(CTX, h) for h in INV.hosts if h is not controller)
