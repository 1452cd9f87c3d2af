"""05-dashboard-install ... 07-dashboard-start: Horizon under Apache on the
gateway, reachable on its public address (the report's reason to put it
there), talking to the controller's Keystone; sessions in memcached.

Served over HTTPS only (the login form posts the password): a certificate of
the suite's authority (deploy/pki.py) for the public address; plain HTTP
answers every request with a redirect to the same path over HTTPS; the
session and CSRF cookies are marked secure."""
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
HTTP_PORT, HTTPS_PORT = 80, 443
CA_FILE = "/etc/ssl/certs/deploy-suite-ca.pem"
CERT_FILE = "/etc/ssl/certs/deploy-dashboard.pem"
KEY_FILE = "/etc/ssl/private/deploy-dashboard.key"
SITE = "deploy-dashboard"
SITE_FILE = f"/etc/apache2/sites-available/{SITE}.conf"


def url(host: Host) -> str:
    return f"https://{host.public_address}{WEBROOT}"


def http_url(host: Host) -> str:
    """Where a user who types the address lands first: redirected to url()."""
    return f"http://{host.public_address}{WEBROOT}"


def site(host: Host) -> str:
    """HTTP redirects (mod_rewrite runs before Horizon's global WSGIScriptAlias);
    HTTPS serves Horizon with the suite's certificate."""
    return (f"# Written by the deploy suite (09-openstack-gateway): Horizon over HTTPS only.\n"
            f"<VirtualHost *:{HTTP_PORT}>\n"
            f"    ServerName {host.public_address}\n"
            f"    RewriteEngine On\n"
            f"    RewriteRule ^ https://{host.public_address}%{{REQUEST_URI}} [R=301,L]\n"
            f"</VirtualHost>\n"
            f"<VirtualHost *:{HTTPS_PORT}>\n"
            f"    ServerName {host.public_address}\n"
            f"    SSLEngine on\n"
            f"    SSLCertificateFile {CERT_FILE}\n"
            f"    SSLCertificateKeyFile {KEY_FILE}\n"
            f"</VirtualHost>\n")


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
        # the cookies go over HTTPS only
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }


def dashboard_rules(host: Host) -> RuleSet:
    """HTTPS (and HTTP, which only redirects) on the public interface, in front of phase 02's default deny."""
    return RuleSet("dashboard", [Chain("filter", "INPUT", [
        ["-i", host.public_interface, "-d", host.public_address, "-p", "tcp", "--dport", str(port), "-j", "ACCEPT"]
        for port in (HTTP_PORT, HTTPS_PORT)])])


def packages() -> Packages:
    return Packages("05-dashboard-install", ["openstack-dashboard", "openstack-dashboard-apache"], hold_services=True)


def steps(ctx: Context, host: Host) -> list[Step]:
    text = "# Written by the deploy suite (09-openstack-gateway).\n" + "".join(
        f"{key} = {value!r}\n" for key, value in settings(ctx.inventory, host).items())
    local = File("06-dashboard-config", SETTINGS_FILE, text,
                 title=f"{SETTINGS_FILE}: Keystone at the controller, sessions in memcached")
    issued = ctx.pki.issue(f"{host.name}-dashboard", [host.public_address], "server")
    tls = [File("06-dashboard-config", CA_FILE, ctx.pki.ca_pem(), title=f"{CA_FILE}: the suite's authority"),
           File("06-dashboard-config", CERT_FILE, issued.cert, title=f"{CERT_FILE}: for {host.public_address}"),
           File("06-dashboard-config", KEY_FILE, issued.key, mode="0600", title=f"{KEY_FILE}: its key"),
           File("06-dashboard-config", SITE_FILE, site(host),
                title=f"{SITE_FILE}: HTTPS, HTTP redirected")]
    apache = [
        # Debian enables Apache's default SSL site beside Horizon without enabling
        # mod_ssl, and Apache then refuses to start; its default site would serve
        # Horizon over plain HTTP to any name but the public address.
        Command("06-dashboard-config", "a2dissite -q default-ssl 000-default",
                unless="! test -e /etc/apache2/sites-enabled/default-ssl.conf && "
                       "! test -e /etc/apache2/sites-enabled/000-default.conf",
                title="Apache's default sites disabled"),
        Command("06-dashboard-config", f"a2enmod -q ssl rewrite && a2ensite -q {SITE}",
                unless="test -e /etc/apache2/mods-enabled/ssl.load && test -e /etc/apache2/mods-enabled/rewrite.load"
                       f" && test -e /etc/apache2/sites-enabled/{SITE}.conf",
                title=f"mod_ssl, mod_rewrite and site {SITE} enabled"),
    ]
    probe = (f"python3 -c \"import ssl, urllib.request as u; u.urlopen('{url(host)}auth/login/', timeout=30, "
             f"context=ssl.create_default_context(cafile='{CA_FILE}'))\"")
    return [
        packages(),
        local, *tls, *apache,
        Service("07-dashboard-start", "apache2", restart_on=[local, *tls, *apache]),
        *firewall_steps("07-dashboard-start", dashboard_rules(host)),
        Await("07-dashboard-start", probe, f"dashboard login page answering at {url(host)}auth/login/", timeout=180),
    ]
