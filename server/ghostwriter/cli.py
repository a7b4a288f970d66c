"""`personas ghostwriter ...`: load the bundled sample accounts and their posts."""

from __future__ import annotations

import argparse

from runtime.settings import get_settings


async def load_sample(args: argparse.Namespace) -> int:
    from runtime.services import Services
    from services.ghostwriter.sample_accounts import load_sample_accounts
    from store.accounts import import_posts, upsert_account

    services = Services.create(get_settings())
    try:
        await services.start(with_model=False, with_embeddings=False)
        for account in load_sample_accounts():
            await upsert_account(services.pool, account_id=account["account_id"], handle=account["handle"],
                                 display_name=account["display_name"], avatar_url=account["avatar_url"])
            inserted, updated = await import_posts(services.pool, account["account_id"], list(account["posts"]))
            print(f"@{account['handle']} ({account['account_id']}): {inserted} new posts, {updated} updated")
    finally:
        await services.stop()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ghostwriter", help="account ghostwriter tools")
    sub = parser.add_subparsers(dest="ghostwriter_command", required=True)
    load = sub.add_parser("load-sample", help="import the bundled synthetic accounts and posts (idempotent)")
    load.set_defaults(run=load_sample)
