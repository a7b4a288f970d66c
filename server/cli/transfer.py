"""`personas export KIND ID --format F -o FILE` and `personas import FILE [--owner USERNAME]`.

Export writes a persona of any kind as a Character Card V2 (`card_v2`) or V3 (`card_v3`), a PNG
card (`png`; `png_v3` with the V3 and the V2 card) or a bundle of every version (`bundle`).
Import reads a card (JSON or PNG) or a studio bundle as a new studio persona of `--owner` (a
builder or admin), or restores a ghostwriter bundle for its account (`--force` replaces the
account's persona). The command line acts as the operator (it reaches the database itself), so
no token or API key is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import ConfigError, ServiceError
from runtime.settings import get_settings

if TYPE_CHECKING:
    from runtime.services import Services
    from use_cases.portable.files import ExportFile
    from use_cases.studio.access import CurrentUser

FORMATS = ("card_v2", "card_v3", "png", "png_v3", "bundle")  # use_cases.portable.files.ExportFormat


def _services() -> Services:
    from runtime.services import Services

    return Services.create(get_settings())


def run_export(args: argparse.Namespace) -> int:
    file = asyncio.run(_export(args))
    out = Path(args.output or file.filename)
    out.write_bytes(file.body)
    print(f"Wrote the {args.kind} persona {args.id} as {args.format} to {out} ({len(file.body)} bytes).")
    return 0


async def _export(args: argparse.Namespace) -> ExportFile:
    from use_cases.ghostwriter import transfer as gw_transfer
    from use_cases.studio import transfer as studio_transfer
    from use_cases.studio.access import OPERATOR
    from use_cases.twin import transfer as twin_transfer

    services = _services()
    try:
        await services.start(with_model=False, with_embeddings=False)
        try:
            if args.kind == "studio":
                file = await studio_transfer.export_persona(
                    services.pool, OPERATOR, args.id, args.format, include_documents=args.include_documents
                )
            elif args.kind == "ghostwriter":
                file = await gw_transfer.export_persona(services, args.id, args.format)
            else:
                if not args.id.isdigit():
                    raise ServiceError(f"Persona {args.id} not found")
                file = await twin_transfer.export_persona(services.pool, int(args.id), args.format)
        except ServiceError as exc:
            raise ConfigError(str(exc.detail)) from None
    finally:
        await services.stop()
    return file


async def _owner(services: Services, username: str | None) -> CurrentUser:
    from store.users import get_user_by_username
    from use_cases.studio.access import CurrentUser
    from use_cases.studio.security import Role

    if not username:
        raise ConfigError("Name the studio user who will own the imported persona: --owner USERNAME.")
    row = await get_user_by_username(services.pool, username)
    if row is None:
        raise ConfigError(f"There is no user {username!r}.")
    if row["role"] not in ("builder", "admin"):
        raise ConfigError(f"The user {username!r} is a {row['role']}; personas belong to builders and admins.")
    return CurrentUser(id=row["id"], username=row["username"], role=Role(row["role"]))


def run_import(args: argparse.Namespace) -> int:
    from use_cases.portable.files import MAX_IMPORT_BYTES

    path = Path(args.file)
    if not path.is_file():
        raise ConfigError(f"There is no file {path}.")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ConfigError(f"{path} is larger than the import limit of {MAX_IMPORT_BYTES} bytes.")
    return asyncio.run(_import(args, path, path.read_bytes()))


async def _import(args: argparse.Namespace, path: Path, raw: bytes) -> int:
    from use_cases.ghostwriter import transfer as gw_transfer
    from use_cases.portable.files import ImportedBundle, read_import
    from use_cases.studio import transfer as studio_transfer

    try:
        imported = read_import(raw)
    except ServiceError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None
    services = _services()
    try:
        await services.start(with_model=False, with_embeddings=False)
        try:
            if isinstance(imported, ImportedBundle) and imported.kind == "ghostwriter":
                account = imported.bundle.get("account")
                account_id = str(account.get("id")) if isinstance(account, dict) else ""
                restored = await gw_transfer.import_bundle(services, account_id, raw, force=args.force)
                print(
                    f"Restored {restored.versions_imported} version(s) of the ghostwriter persona of account "
                    f"{restored.account_id}; the current version is {restored.persona_version}."
                )
                return 0
            owner = await _owner(services, args.owner)
            result = await studio_transfer.import_persona(services, owner, raw)
        except ServiceError as exc:
            raise ConfigError(f"{path}: {exc.detail}") from None
    finally:
        await services.stop()
    source = f"{result.format}{' in a PNG' if result.png else ''}"
    print(
        f"Imported studio persona {result.persona_id} {result.persona_name!r} for {owner.username} "
        f"({result.versions_imported} version(s) from a {source})."
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="write a persona to a card (JSON or PNG) or a bundle")
    export.add_argument("kind", choices=("studio", "ghostwriter", "twin"))
    export.add_argument("id", help="the persona id (studio, twin) or the account id (ghostwriter)")
    export.add_argument("--format", choices=FORMATS, default="card_v2")
    export.add_argument("-o", "--output", help="the file to write (default: a name made from the persona's)")
    export.add_argument(
        "--include-documents", action="store_true", help="bundle: include the documents of the persona's collections"
    )
    export.set_defaults(run=run_export)
    imp = subparsers.add_parser("import", help="import a card (JSON or PNG) or a bundle")
    imp.add_argument("file")
    imp.add_argument("--owner", help="the studio user (builder or admin) who owns an imported card or studio bundle")
    imp.add_argument("--force", action="store_true", help="ghostwriter bundle: replace the account's persona")
    imp.set_defaults(run=run_import)
