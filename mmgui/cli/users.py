"""`mmgui add-user`: studio logins (a users.json of salted PBKDF2 hashes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmgui.serve.auth import Role


def cmd_add_user(args: argparse.Namespace) -> None:
    import getpass

    from mmgui.serve.auth import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    add_user(Path(args.auth), args.username, password, args.role)
    print(f"{args.username} ({args.role}) saved in {args.auth}")


def add_user_commands(commands: argparse._SubParsersAction) -> None:
    add_user = commands.add_parser("add-user", help="add or update a studio login")
    add_user.add_argument("--auth", required=True, help="the users.json file")
    add_user.add_argument("--username", required=True)
    add_user.add_argument("--role", default=Role.EDITOR, choices=list(Role))
    add_user.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    add_user.set_defaults(run=cmd_add_user)
