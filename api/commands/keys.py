"""``cityaware keys``: create, list and revoke API keys (stored hashed in the data dir).

cityaware keys create --role service --label "hotline ticketing"
cityaware keys list
cityaware keys revoke 1a2b3c4d
"""

from __future__ import annotations

import argparse
import sys

from cityaware.api.commands import Subparsers, add_command, add_data_dir
from cityaware.api.settings import Settings


def add_parser(subparsers: Subparsers) -> None:
    from cityaware.api.service.roles import ROLES

    parser = add_command(
        subparsers,
        "keys",
        "manage API keys (roles: service, gis, ops, admin)",
        ("cityaware keys create --role service --label hotline", "cityaware keys list"),
        "Create, list and revoke API keys; they are stored hashed in the data directory.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = add_command(
        actions,
        "create",
        "make a key and print it once",
        ('cityaware keys create --role service --label "hotline ticketing"',),
    )
    create.add_argument("--role", required=True, choices=ROLES, help="what the key may do")
    create.add_argument("--label", default="", help="who uses the key")
    lister = add_command(
        actions, "list", "list keys (never the keys themselves)", ("cityaware keys list",)
    )
    revoke = add_command(
        actions, "revoke", "delete a key by its id", ("cityaware keys revoke 1a2b3c4d",)
    )
    revoke.add_argument("key_id", help="the id that keys list shows")
    for sub in (create, lister, revoke):  # fmt: skip
        add_data_dir(sub)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.api.service.auth import key_store_for

    store = key_store_for(settings)
    if args.action == "create":
        secret, key = store.create(args.role, args.label)
        print(secret)
        print(f"created key {key.id} with role {key.role} in {store.path}", file=sys.stderr)
    elif args.action == "list":
        for key in store.keys():
            print(f"{key.id}\t{key.role}\t{key.created}\t{key.label}")
        print(f"{len(store.keys())} keys in {store.path}")
    else:
        key = store.revoke(args.key_id)
        print(f"revoked key {key.id} ({key.role})")
    return 0
