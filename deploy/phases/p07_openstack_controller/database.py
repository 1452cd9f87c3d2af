"""02-mysql-install ... 03-mysql-start, and each service's 05-*-create-db:
MariaDB on the management address, one database and user per service
(deploy/services: each SPEC names its databases)."""
from __future__ import annotations

from ...remote import WithStdin
from ...services import database_owners
from ...services.shared import mysql_host_pattern
from ...steps import Command, File, Packages, Service, Step
from .. import Context

SERVER_CNF = "/etc/mysql/mariadb.conf.d/99-openstack.cnf"


def server_cnf(address: str) -> str:
    return ("# Written by the deploy suite (07-openstack-controller)\n[mysqld]\n"
            f"bind-address = {address}\n"
            "default-storage-engine = innodb\ninnodb_file_per_table = on\n"
            "max_connections = 1024\ncollation-server = utf8mb4_general_ci\ncharacter-set-server = utf8mb4\n")


def sql_with_secret(text: str, then: str = "") -> WithStdin:
    """SQL holding a password, for the local root (socket auth): on mysql's
    standard input, so the password is on no command line. `then` follows
    mysql in a pipe (grep -q 1)."""
    statements = text.rstrip().rstrip(";") + ";\n"
    return WithStdin("mysql --protocol=socket -uroot -NB" + (f" | {then}" if then else ""), statements)


def logs_in(user: str, password: str, address: str, db: str) -> WithStdin:
    """Succeeds when `user` logs in over the network with `password` and sees `db`.
    mysql reads the password from a 0600 option file that lives only as long
    as the command (mktemp makes it 0600; removed whatever the outcome)."""
    return WithStdin(f'f=$(mktemp) && cat >"$f" && mysql --defaults-extra-file="$f" -h {address} -u {user} '
                     f'-NBe "SELECT 1" {db} >/dev/null; rc=$?; rm -f "$f"; exit $rc',
                     f"[client]\npassword={password}\n")


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    address = inv.controller.address
    cnf = File("02-mysql-install", SERVER_CNF, server_cnf(address))
    result: list[Step] = [
        Packages("02-mysql-install", ["mariadb-server", "python3-pymysql"], hold_services=True),
        cnf,
        Service("03-mysql-start", "mariadb", restart_on=[cnf]),
    ]
    root_pw = ctx.secrets.get("mariadb_root").reveal()
    # root keeps logging in through the socket as the system's root; the password
    # is for everyone else (and is what the secrets file says).
    result.append(Command(
        "03-mysql-start",
        sql_with_secret(f"ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password "
                        f"USING PASSWORD('{root_pw}')"),
        unless=sql_with_secret(f"SELECT 1 FROM mysql.global_priv WHERE User='root' AND Host='localhost' "
                               f"AND JSON_VALUE(Priv, '$.authentication_string') = PASSWORD('{root_pw}')",
                               then="grep -q 1"),
        title="root password as in the secrets file"))
    pattern = mysql_host_pattern(inv)
    for db, user in database_owners().items():  # each service's databases, owned by its user
        pw = ctx.secrets.get(f"{user}_db").reveal()
        result.append(Command(
            f"05-{user}-create-db",
            sql_with_secret(f"CREATE DATABASE IF NOT EXISTS {db}; CREATE USER IF NOT EXISTS '{user}'@'{pattern}'; "
                            f"ALTER USER '{user}'@'{pattern}' IDENTIFIED BY '{pw}'; "
                            f"GRANT ALL PRIVILEGES ON {db}.* TO '{user}'@'{pattern}'"),
            # the user logs in over the network with the secrets file's password and sees its database
            unless=logs_in(user, pw, address, db),
            title=f"database {db} for user {user}"))
    return result
