"""``cityaware keys``: create, list and revoke API keys (stored hashed in the data dir).

cityaware keys create --role service --label "hotline ticketing"
cityaware keys list
cityaware keys revoke 1a2b3c4d
"""

from __future__ import annotations

import argparse
import sys

from cityaware.api.commands import add_data_dir
from cityaware.api.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from cityaware.api.service.roles import ROLES

    parser = subparsers.add_parser("keys", help="manage API keys (roles: service, gis, ops, admin)")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--label", default="", help="who uses the key")
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="delete a key by its id")
    revoke.add_argument("key_id")
    for sub in (create, actions.choices["list"], revoke):
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
