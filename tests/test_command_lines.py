"""No secret on any command line: every command text the runner sends, for
every phase and host of the default inventory (fake hosts, a first converge
and a second one), is free of every value of the secrets file. Secrets travel
only on standard input (WithStdin) or as the content of a file written."""
import pytest
import yaml

from deploy.phases import Context, all_phases
from deploy.remote import render, stdin_of
from deploy.runner import apply_host
from deploy.secrets import Secrets, mask
from tests.fakes import FakeRemote
from tests.phase_cases import converge

PHASES = all_phases()


class RecordingRemote(FakeRemote):
    """A fake host that keeps every command text and standard input it is sent."""

    def __init__(self, host, sent):
        super().__init__(host)
        self.sent = sent

    def read_facts(self, facts):
        self.sent += [(render(f.command()), stdin_of(f.command())) for f in facts]
        return super().read_facts(facts)

    def run(self, command, *, check=True, stdin=None, timeout=None):
        self.sent.append((render(command), stdin if stdin is not None else stdin_of(command)))
        return super().run(command, check=check, stdin=stdin, timeout=timeout)


@pytest.fixture(scope="module")
def converged(default_inventory_module, tmp_path_factory):
    """Every phase converged twice on fake hosts: (secret values, [(text, stdin)])."""
    path = tmp_path_factory.mktemp("secrets") / "s.yaml"
    ctx = Context(default_inventory_module, Secrets(path))
    for host in default_inventory_module.hosts:
        ctx.facts[host.name] = {"virt_type": "qemu", "container": "systemd-nspawn"}
    sent: list[tuple[str, bytes | None]] = []
    for phase in PHASES:
        for host in phase.targets(ctx.inventory):
            remote = converge(phase, ctx, host, RecordingRemote(host, sent))
            result = apply_host(remote, phase.steps(ctx, host))
            assert result.error is None, f"{phase.title} on {host.name}: {result.error}"
    values = list(yaml.safe_load(path.read_text()).values())
    return values, sent


@pytest.fixture(scope="module")
def default_inventory_module():
    from tests.conftest import ROOT
    from deploy.inventory import load_inventory
    return load_inventory(ROOT / "inventory.yaml", check_keys=False)


def test_no_secret_in_any_command_text(converged):
    values, sent = converged
    assert len(values) >= 15 and len(sent) > 500  # every service's secrets, every phase's commands
    leaks = [mask(text)[:160] for text, _ in sent for value in values if value in text]
    assert not leaks, f"secrets on command lines: {leaks[:5]}"


def test_the_secrets_that_hosts_need_travel_on_standard_input(converged):
    """Not vacuous: the commands that set or check passwords did run, with them."""
    values, sent = converged
    inputs = b"".join(stdin for _, stdin in sent if stdin)
    for needle in ("rabbitmqctl -q add_user nova", "keystone-manage bootstrap", "IDENTIFIED",
                   "mysql --defaults-extra-file"):
        assert any(needle in text or (stdin and needle.encode() in stdin) for text, stdin in sent), needle
    on_stdin = [v for v in values if v.encode() in inputs]
    assert len(on_stdin) >= 8, "database, message-queue and admin passwords go to the hosts on standard input"
