"""Known faults: the report's troubleshooting list and today's common ones,
recognised in failure messages and collected logs, each named with its fix."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    pattern: re.Pattern
    fix: str            # may use {0}, {1} ... for the pattern's groups

    def explain(self, match: re.Match) -> str:
        groups = [g or "" for g in match.groups()]  # alternatives leave the other groups empty
        return f"{self.name}: {re.sub(r' [(][)]', '', self.fix.format(*groups))}"


def _f(name: str, pattern: str, fix: str) -> Fault:
    return Fault(name, re.compile(pattern, re.I | re.M), fix)


FAULTS = [
    _f("database not reachable",
       r"Can't connect to (?:MySQL|MariaDB) server on '?([\w.-]+)|\(2003, .Can't connect|mariadb\.service.*(?:failed|inactive)",
       "MariaDB on the controller is down or refuses connections ({0}); a service that started before its "
       "database keeps failing: `systemctl start mariadb` on the controller, then re-run the deploy "
       "(services restart after their configuration)."),
    _f("wrong database password",
       r"Access denied for user '([\w-]+)'@'([\d.%\w-]+)'",
       "the password of database user {0} (connecting from {1}) differs between MariaDB and the service's "
       "config; re-run the deploy to put the secrets file's password in both places."),
    _f("config not readable by the service",
       r"No sql_connection parameter is established|CantStartEngineError",
       "the service found no database connection in its config: oslo.config skips a file its user cannot read. "
       "Compare `ls -ln /etc/SERVICE` with `id SERVICE` (files a package made before phase 04 set the fixed ids "
       "keep the old ones; phase 04 re-owns them when it moves an account), then re-run the deploy."),
    _f("wrong message-queue password",
       r"ACCESS_REFUSED - Login was refused using authentication mechanism|AMQP server on [\w.-]+:5672 is unreachable",
       "RabbitMQ refused the service's login or is down: check `rabbitmqctl list_users` on the controller and "
       "the service's transport_url; re-run the deploy to set the password from the secrets file."),
    _f("service user rejected by Keystone",
       r"(?:Unauthorized|HTTP 401).*?(?:user|service)[ :]+'?([\w-]+)|The request you have made requires authentication",
       "Keystone rejects a service's credentials ({0}): its [keystone_authtoken] password differs from its "
       "Keystone user's; re-run the deploy to align both with the secrets file."),
    _f("stale lock",
       r"Could not get lock (/var/lib/dpkg/lock[\w-]*|/var/lib/apt/lists/lock)|Unable to acquire the dpkg frontend lock|"
       r"database is locked|Another app is currently holding the xtables lock",
       "a lock is held ({0}) by an interrupted or concurrent run: wait for it, or find the holder with "
       "`fuser -v {0}`; after a killed apt, `dpkg --configure -a` and re-run."),
    _f("permissions on the instances share",
       r"Permission denied: '(/var/lib/nova/instances[^']*)'|(/var/lib/nova/instances\S*): Permission denied",
       "nova or libvirt-qemu cannot write {0}{1}: the share must belong to nova (uid 64060) and the numeric ids "
       "of nova and libvirt-qemu must match on every host (phase 04 sets both)."),
    _f("hypervisor type the CPU cannot do",
       r"Could not access KVM kernel module|KVM is not supported|kvm: no hardware support|failed to initialize kvm|"
       r"unsupported configuration: Domain requires KVM",
       "KVM was asked for on a host without usable hardware virtualization: phase 05 chooses "
       "virt_type=qemu when /proc/cpuinfo has no vmx/svm flag; check /etc/deploy/hypervisor and nova-compute.conf."),
    _f("GlusterFS brick offline",
       r"^Brick ([\w.-]+:\S+)\s+N/A\s+N/A\s+N\s|Brick\s*: Brick ([\w.-]+:\S+)\n(?:.*\n){0,6}?Online\s*: N",
       "the brick {0}{1} is not running: on that host `systemctl status glusterd`, then "
       "`gluster volume start VOLUME force` on the controller to restart missing bricks."),
    _f("clock skew",
       r"clock skew|time is not synchronised|Token (?:is|was) not yet valid|issued in the future|"
       r"The certificate is not yet valid",
       "clocks disagree between hosts: check chrony (`chronyc tracking`) on every host; tokens and "
       "certificates are rejected when clocks drift."),
    _f("ebtables cannot delete the agent's ARP-protection rules",
       r"Exit code: 4; Cmd: \['ebtables', '-t', 'nat'.*'-D', '(neutron(?:MAC|ARP)-[\w-]+)'.*--among-src|"
       r"RULE_DELETE failed \(Invalid argument\): rule in chain (neutron(?:MAC|ARP)-[\w-]+)",
       "the linuxbridge agent loops deleting a rule of {0}{1} by its spec, which ebtables-nft 1.8.9 cannot do on "
       "kernels >= 6.3 (an `among` match); later ports on the host never go ACTIVE. Check "
       "/etc/deploy/ebtables and `update-alternatives --query ebtables` on the host: phases 08/09 install the "
       "front end where the probe says broken; re-run the deploy, then restart neutron-linuxbridge-agent there."),
    _f("metadata service unreachable from the guest",
       r"(?:failed|unable) to (?:get|fetch|connect to|reach) (?:the )?(?:metadata|http://169\.254\.169\.254)|"
       r"url_helper.*169\.254\.169\.254.*(?:failed|error)|169\.254\.169\.254.*(?:timed out|Connection refused)",
       "the guest cannot reach 169.254.169.254: check neutron-metadata-agent and the DHCP/L3 agent's "
       "metadata proxy on the gateway, and nova-api-metadata (port 8775) on the controller."),
]


def recognise(text: str) -> list[str]:
    """Every known fault found in `text`, each once, with its fix."""
    found: list[str] = []
    for fault in FAULTS:
        match = fault.pattern.search(text)
        if match:
            found.append(fault.explain(match))
    return found


def recognise_by_source(host: str, sources: Mapping[str, str], shown: int = 3) -> list[str]:
    """Known faults in several texts of one host, each once, as 'host (where, ...): fault: fix'."""
    seen: dict[str, list[str]] = {}
    for where, text in sources.items():
        for fault in recognise(text):
            seen.setdefault(fault, []).append(where)
    return [f"{host} ({', '.join(places[:shown])}): {fault}" for fault, places in seen.items()]
