"""`driftwarden apikey create|list|revoke`: the API's keys, from the operator's shell."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from monitor.cli_support import console, settings

apikey_app = typer.Typer(help="API keys (Authorization: Bearer ...).", no_args_is_help=True)

OUTPUT = typer.Option(help="table or json")


def _engine() -> Any:
    from monitor.db.engine import make_engine  # noqa: PLC0415

    return make_engine(settings())


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _check_output(output: str) -> None:
    if output not in ("table", "json"):
        raise _fail(f"--output={output!r}: table or json")


@apikey_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the key (unique).")],
    scope: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    output: Annotated[str, OUTPUT] = "table",
) -> None:
    """Create a key and print its token once: only a hash of it is kept."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.apikeys import ApiKeyError, create_key  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            row, token = create_key(session, name=name, scope=scope)
            facts = {"name": row.name, "scope": row.scope, "key_id": row.key_id}
    except ApiKeyError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    if output == "json":
        typer.echo(json.dumps({**facts, "token": token}))
        return
    console.print(f"created key {facts['name']!r} (scope {facts['scope']}); its token, shown once:")
    typer.echo(token)


@apikey_app.command("list")
def list_(output: Annotated[str, OUTPUT] = "table") -> None:
    """Every key: name, scope, when created, last used and revoked (never the token)."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.apikeys import list_keys  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session:
            rows = [
                {
                    "name": k.name,
                    "scope": k.scope,
                    "key_id": k.key_id,
                    "created_at": k.created_at.isoformat(),
                    "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                    "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                }
                for k in list_keys(session)
            ]
    finally:
        engine.dispose()
    if output == "json":
        typer.echo(json.dumps(rows))
        return
    table = Table("name", "scope", "key id", "created", "last used", "revoked")
    for r in rows:
        table.add_row(*(escape(str(r[c] or "")) for c in r))
    console.print(table)


@apikey_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: refused from its next request on."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.apikeys import ApiKeyError, revoke_key  # noqa: PLC0415

    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            revoke_key(session, name)
    except ApiKeyError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    console.print(f"revoked key {name!r}")
