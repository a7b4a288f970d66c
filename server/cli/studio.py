"""`personas users create --username U --role admin`: bootstrap studio users.

The password is read from a hidden prompt, or from standard input with
`--password-stdin` (for scripts); it is never a command-line argument.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from runtime.errors import ConfigError


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage studio users")
    sub = users.add_subparsers(dest="users_command", required=True)
    create = sub.add_parser("create", help="create a user (e.g. the first admin)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=("admin", "builder", "user"), default="user")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(run=run_create)


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise ConfigError("The two passwords differ.")
    if len(password) < 8:
        raise ConfigError("The password must be at least 8 characters long.")
    return password


async def run_create(args: argparse.Namespace) -> int:
    from runtime.services import Services
    from runtime.settings import get_settings
    from server.studio.schemas import USERNAME
    from use_cases.studio.users import UsernameInUse, add_user

    if not USERNAME.match(args.username):
        raise ConfigError("The username must be 3-64 letters, digits or _ . @ -.")
    password = read_password(args)
    services = Services.create(get_settings())
    try:
        await services.start(with_model=False, with_embeddings=False)
        try:
            row = await add_user(services.pool, username=args.username, password=password, role=args.role)
        except UsernameInUse:
            raise ConfigError(f"The username {args.username!r} already exists.") from None
    finally:
        await services.stop()
    print(f"Created {row['role']} {row['username']} (id {row['id']}).")
    return 0
