"""05-dashboard-install ... 07-dashboard-start: Horizon under Apache on the
gateway, reachable on its public address (the report's reason to put it
there), talking to the controller's Keystone; sessions in memcached."""
from __future__ import annotations


from ...firewall import Chain, RuleSet, firewall_steps
from ...inventory import Host, Inventory
from ...steps import Await, Command, File, Packages, Service, Step
from .. import Context

# Read after local_settings.py and after Debian's own snippets (_0006 sets a
# per-process cache), in name order: the suite's settings come last and win.
SETTINGS_FILE = "/etc/openstack-dashboard/local_settings.d/_9000_deploy_suite.py"
# Debian serves Horizon at /horizon unless it takes over Apache's default site
# (debconf horizon/activate_vhost, answered false in phase 06).
WEBROOT = "/horizon/"
HTTP_PORT = 80


def url(host: Host) -> str:
    return f"http://{host.public_address}{WEBROOT}"


def settings(inv: Inventory, host: Host) -> dict[str, object]:
    """The report's 06-dashboard-config, and what today's Horizon needs beside it."""
    ctl = inv.controller
    return {
        "OPENSTACK_HOST": ctl.address,
        "OPENSTACK_KEYSTONE_URL": f"http://{ctl.address}:5000/v3",
        "OPENSTACK_KEYSTONE_DEFAULT_DOMAIN": "Default",
        "OPENSTACK_KEYSTONE_DEFAULT_ROLE": "member",
        "OPENSTACK_API_VERSIONS": {"identity": 3, "image": 2, "volume": 3},
        "ALLOWED_HOSTS": [host.public_address, host.address, host.name, "localhost"],
        "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.memcached.MemcachedCache",
                               "LOCATION": f"{ctl.address}:11211"}},
        "OPENSTACK_NEUTRON_NETWORK": {"enable_router": True, "enable_quotas": True,
                                      "enable_distributed_router": False, "enable_ha_router": False,
                                      "enable_fip_topology_check": True},
        "TIME_ZONE": "UTC",
    }


def dashboard_rules(host: Host) -> RuleSet:
    """HTTP on the public interface, in front of phase 02's default deny."""
    return RuleSet("dashboard", [Chain("filter", "INPUT", [
        ["-i", host.public_interface, "-d", host.public_address, "-p", "tcp", "--dport", str(HTTP_PORT),
         "-j", "ACCEPT"]])])


def packages() -> Packages:
    return Packages("05-dashboard-install", ["openstack-dashboard", "openstack-dashboard-apache"], hold_services=True)


def steps(ctx: Context, host: Host) -> list[Step]:
    text = "# Written by the deploy suite (09-openstack-gateway).\n" + "".join(
        f"{key} = {value!r}\n" for key, value in settings(ctx.inventory, host).items())
    local = File("06-dashboard-config", SETTINGS_FILE, text,
                 title=f"{SETTINGS_FILE}: Keystone at the controller, sessions in memcached")
    return [
        packages(),
        local,
        # Debian enables Apache's default SSL site beside Horizon without enabling
        # mod_ssl, and Apache then refuses to start; the report served HTTP only.
        Command("06-dashboard-config", "a2dissite -q default-ssl",
                unless="! test -e /etc/apache2/sites-enabled/default-ssl.conf",
                title="Apache's default SSL site disabled"),
        Service("07-dashboard-start", "apache2", restart_on=[local]),
        *firewall_steps("07-dashboard-start", dashboard_rules(host)),
        Await("07-dashboard-start",
              f"python3 -c \"import urllib.request as u; u.urlopen('http://localhost{WEBROOT}auth/login/', timeout=30)\"",
              f"dashboard login page answering at {url(host)}auth/login/", timeout=180),
    ]
