"""`personas ghostwriter ...`: load the bundled sample accounts and their posts."""

from __future__ import annotations

import argparse

from runtime.settings import get_settings


async def load_sample(args: argparse.Namespace) -> int:
    from runtime.services import Services
    from use_cases.ghostwriter.accounts import import_sample_accounts

    services = Services.create(get_settings())
    try:
        await services.start(with_model=False, with_embeddings=False)
        async for done in import_sample_accounts(services):
            print(f"@{done.handle} ({done.account_id}): {done.inserted} new posts, {done.updated} updated")
    finally:
        await services.stop()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ghostwriter", help="account ghostwriter tools")
    sub = parser.add_subparsers(dest="ghostwriter_command", required=True)
    load = sub.add_parser("load-sample", help="import the bundled synthetic accounts and posts (idempotent)")
    load.set_defaults(run=load_sample)
