"""Debconf answers that keep Debian 12's OpenStack Zed packages from doing
anything by themselves: no database, no RabbitMQ URL, no keystone_authtoken,
no keystone endpoint or service user, no keystone admin bootstrap.

Read on 2026-11-23 from DEBIAN/templates, config and postinst (dpkg-deb -e,
nothing installed) of the bookworm / bookworm-security packages:
  keystone 2:22.0.2-0+deb12u6; glance-common, glance-api 2:25.1.0-2+deb12u5;
  nova-common, nova-api, nova-compute 2:26.2.2-1~deb12u5;
  placement-common, placement-api 8.0.0-2;
  neutron-common, neutron-api, neutron-rpc-server, neutron-server,
  neutron-metadata-agent, neutron-linuxbridge-agent, neutron-dhcp-agent,
  neutron-l3-agent 2:21.0.0-7+deb12u1;
  cinder-common, cinder-api, cinder-volume 2:21.3.1-1~deb12u1;
  openstack-dashboard, openstack-dashboard-apache 3:23.0.0-5+deb12u2;
  rabbitmq-server 3.10.8-1.1+deb12u1; mariadb-server 1:10.11.19-0+deb12u1;
  memcached 1.6.18-1+deb12u1; dbconfig-common 2.0.24; openstack-pkg-tools 123;
  and from their dependencies libvirt-daemon-system 9.0.0-4+deb12u2,
  open-iscsi 2.1.8-1+deb12u1.

The OpenStack scripts embed openstack-pkg-tools' pkgos_func (it ships no
templates of its own). Every database, RabbitMQ, keystone_authtoken, endpoint
and keystone-bootstrap action is behind a boolean whose template default is
false already; the answers below state it explicitly. neutron-server
is a metapackage: its endpoint question belongs to neutron-api. Keystone Zed
has no admin-token question. rabbitmq-server, memcached, nova-compute and the
neutron agents (except metadata) have no templates. mariadb-server only has
notes and the purge question. open-iscsi's questions are db_reset before use
(so cannot be preseeded) and only come up on upgrade or removal with iSCSI
sessions.

Not answerable: nova/my-ip and cinder/my-ip. Their config scripts always
db_set them (from my_ip in nova.conf/cinder.conf, else the default-route
address), and postinst writes `my_ip = <that>` into the file wherever a
`my_ip` line, commented or not, exists in [DEFAULT]. The shipped nova.conf and
cinder.conf have `#my_ip = ...`. The suite overwrites these files anyway.
A postinst edits only directives the file already contains, so a config file
written before its package is installed keeps its content unless it has one
of the directives named here (owner and mode are reset: root:<pkg> 0640).
"""

# (package, question, type, value) for debconf-set-selections
PRESEED: list[tuple[str, str, str, str]] = [
    # keystone: configure_db -> dbconfig-common + keystone-manage db_sync;
    # create-admin-tenant -> fernet/credential setup, keystone-manage bootstrap,
    # admin project and user, 14 roles; register-endpoint -> bootstrap with
    # --bootstrap-*-url (only when create-admin-tenant is true)
    ("keystone", "keystone/configure_db", "boolean", "false"),
    ("keystone", "keystone/create-admin-tenant", "boolean", "false"),
    ("keystone", "keystone/register-endpoint", "boolean", "false"),

    # glance-common: db (dbconfig + glance-manage db_sync), transport_url,
    # keystone_authtoken (+ creating the service user in keystone)
    ("glance-common", "glance/configure_db", "boolean", "false"),
    ("glance-common", "glance/configure_rabbit", "boolean", "false"),
    ("glance-common", "glance/configure_ksat", "boolean", "false"),
    ("glance-common", "glance/ksat-create-service-user", "boolean", "false"),  # template default true
    # glance-api: openstack service/endpoint create
    ("glance-api", "glance/configure_api-endpoint", "boolean", "false"),

    # nova-common: db (dbconfig, <db>_cell0 database, nova-manage db sync),
    # transport_url, keystone_authtoken, [neutron] and [placement] credentials
    # (the latter two only asked when configure_ksat is true)
    ("nova-common", "nova/configure_db", "boolean", "false"),
    ("nova-common", "nova/configure_rabbit", "boolean", "false"),
    ("nova-common", "nova/configure_ksat", "boolean", "false"),
    ("nova-common", "nova/ksat-create-service-user", "boolean", "false"),  # template default true
    ("nova-common", "nova/configure_neutron", "boolean", "false"),
    ("nova-common", "nova/configure_placement", "boolean", "false"),
    # Written to [cinder] os_region_name whenever non-empty (template default
    # regionOne); empty: postinst writes nothing.
    ("nova-common", "nova/cinder_os_region_name", "string", ""),
    # nova-api: api_database (dbconfig, api_db sync, cell_v2 map_cell0 and
    # create_cell, then the nova-common-db-sync trigger); endpoint registration
    ("nova-api", "novaapi/configure_db", "boolean", "false"),
    ("nova-api", "nova/configure_api-endpoint", "boolean", "false"),

    # placement-common: db (dbconfig + placement-manage db sync), keystone_authtoken
    ("placement-common", "placement/configure_db", "boolean", "false"),
    ("placement-common", "placement/configure_ksat", "boolean", "false"),
    ("placement-common", "placement/ksat-create-service-user", "boolean", "false"),  # template default true
    # placement-api: endpoint registration
    ("placement-api", "placement/configure_api-endpoint", "boolean", "false"),

    # neutron-common: db (dbconfig + neutron-db-manage upgrade head),
    # transport_url, keystone_authtoken, [nova] credentials
    ("neutron-common", "neutron/configure_db", "boolean", "false"),
    ("neutron-common", "neutron/configure_rabbit", "boolean", "false"),
    ("neutron-common", "neutron/configure_ksat", "boolean", "false"),
    ("neutron-common", "neutron/ksat-create-service-user", "boolean", "false"),  # template default true
    ("neutron-common", "neutron/configure_nova", "boolean", "false"),
    # neutron-api (pulled in by neutron-server): endpoint registration
    ("neutron-api", "neutron/configure_api-endpoint", "boolean", "false"),
    # neutron-metadata-agent: metadata_proxy_shared_secret and nova_metadata_host
    ("neutron-metadata-agent", "neutron-metadata/configure", "boolean", "false"),

    # cinder-common: db (dbconfig + cinder-manage db sync), transport_url,
    # keystone_authtoken
    ("cinder-common", "cinder/configure_db", "boolean", "false"),
    ("cinder-common", "cinder/configure_rabbit", "boolean", "false"),
    ("cinder-common", "cinder/configure_ksat", "boolean", "false"),
    ("cinder-common", "cinder/ksat-create-service-user", "boolean", "false"),  # template default true
    # Needs a value: if empty, config fills in the first VG `vgdisplay -c`
    # finds (maybe the system's own), and postinst writes it to [lvm]
    # volume_group. pkgosvg0 is what the shipped cinder.conf already has, so
    # the write changes nothing.
    ("cinder-common", "cinder/volume_group", "string", "pkgosvg0"),
    # Written to [DEFAULT] glance_api_servers whenever non-empty (template
    # default http://127.0.0.1:9292); empty: postinst writes nothing.
    ("cinder-common", "cinder/glance-api-servers", "string", ""),
    # cinder-api: cinderv2 and cinderv3 service/endpoint registration
    ("cinder-api", "cinder/configure_api-endpoint", "boolean", "false"),

    # dbconfig-common asks these per package only if <pkg>/configure_db is
    # true. They are answered too, to be safe.
    ("keystone", "keystone/dbconfig-install", "boolean", "false"),
    ("glance-common", "glance-common/dbconfig-install", "boolean", "false"),
    ("nova-common", "nova-common/dbconfig-install", "boolean", "false"),
    ("nova-api", "nova-api/dbconfig-install", "boolean", "false"),
    ("placement-common", "placement-common/dbconfig-install", "boolean", "false"),
    ("neutron-common", "neutron-common/dbconfig-install", "boolean", "false"),
    ("cinder-common", "cinder-common/dbconfig-install", "boolean", "false"),

    # openstack-dashboard: postinst writes ALLOWED_HOSTS into local_settings.py
    # whenever this is non-empty, and config fills an empty answer with
    # "$(hostname --fqdn),localhost". Needs a value: localhost, the narrowest
    # one, until the suite writes its own local_settings.py.
    ("openstack-dashboard", "horizon/allowed-hosts", "string", "localhost"),
    # openstack-dashboard-apache: true -> Horizon becomes the site at "/"
    # (000-default disabled). false (the default) still changes Apache's
    # sites: see the report.
    ("openstack-dashboard-apache", "horizon/activate_vhost", "boolean", "false"),
    ("openstack-dashboard-apache", "horizon/use_ssl", "boolean", "false"),  # template default true

    # mariadb-server: only read on purge (true: delete /var/lib/mysql)
    ("mariadb-server", "mariadb-server/postrm_remove_databases", "boolean", "false"),

    # libvirt-daemon-system (nova-compute -> nova-compute-kvm): asked only if
    # uid or gid 64055 is held by someone other than libvirt-qemu. Here FALSE
    # ABORTS the install; true continues without the fixed id.
    ("libvirt-daemon-system", "libvirt-daemon-system/id_warning", "boolean", "true"),
]

# Answers that don't stay as preseeded once the packages are installed, so
# compare them with debconf only before then.
NOT_KEPT: dict[str, str] = {
    "keystone/create-admin-tenant": "unregistered by keystone's postinst",
    "glance/configure_rabbit": "unregistered by postinst",
    "nova/configure_rabbit": "unregistered by postinst",
    "neutron/configure_rabbit": "unregistered by postinst",
    "cinder/configure_rabbit": "unregistered by postinst",
    "neutron/configure_ksat": "unregistered by postinst",
    "cinder/configure_ksat": "unregistered by postinst",
    "nova/cinder_os_region_name": "read back from nova.conf [cinder] when config runs again",
    "cinder/volume_group": "read back from cinder.conf [lvm] when config runs again",
    "cinder/glance-api-servers": "read back from cinder.conf when config runs again",
    "horizon/allowed-hosts": "read back from local_settings.py when config runs again",
}

# Fixed ids in the maintainer scripts (uid = gid of the same-named group).
# The others are dynamic: keystone, placement, neutron, horizon, rabbitmq,
# memcache, mysql, and the kvm and libvirt groups.
SYSTEM_IDS: dict[str, int] = {
    "nova": 64060,            # pkgos_adduser: --uid/--gid 64060
    "cinder": 64061,          # pkgos_adduser: --uid/--gid 64061
    "glance": 64062,          # pkgos_adduser: --uid/--gid 64062
    "libvirt-qemu": 64055,    # libvirt-daemon-system: user (primary group kvm) and
                              # group libvirt-qemu, only if 64055 is free
}
