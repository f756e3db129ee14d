"""The one place where errors become messages and exit codes.

Commands raise ``memory_core`` errors (or ``CliError`` for CLI-level refusals) and never
catch them; ``MemoryGroup.invoke`` turns each into a one-line message on stderr and an
exit code. Exit codes:

* 0: success;
* 1: the operation failed (not found, wrong state, storage failure, unhealthy, refused);
* 2: usage or configuration error (bad option, invalid config, input over a limit).

A traceback is printed only with ``-v`` and only for unexpected errors (bugs).
"""

from __future__ import annotations

import errno
import sys
import traceback
from typing import Any

import typer
from memory_core import (
    ConfigurationError,
    InvalidInputError,
    MemoryCoreError,
)
from pydantic import ValidationError
from typer.core import TyperGroup

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure the CLI itself detects (refused overwrite, unsupported operation)."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, CliError):
        return exc.exit_code
    if isinstance(exc, ConfigurationError | InvalidInputError | ValidationError):
        return EXIT_USAGE
    return EXIT_FAILED


def message_for(exc: BaseException) -> str:
    """A one-line explanation that names the field or key and the limit when known."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
            parts.append(f"{loc}: {err.get('msg')}")
        return "invalid input: " + "; ".join(parts)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, InvalidInputError):
        extra = []
        if exc.field and exc.field not in text:
            extra.append(f"field: {exc.field}")
        if exc.limit is not None and str(exc.limit) not in text:
            extra.append(f"limit: {exc.limit}")
        if extra:
            text += f" ({', '.join(extra)})"
    elif isinstance(exc, ConfigurationError) and exc.key and exc.key not in text:
        text += f" (setting: {exc.key})"
    return text


def _print_error(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()


class MemoryGroup(TyperGroup):
    """Root command group: maps errors once, and closes the memory after the command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from memory_cli._global_options import hoist_global_options

        return super().parse_args(ctx, hoist_global_options(self, ctx, args))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (MemoryCoreError, CliError, ValidationError) as exc:
            _print_error(message_for(exc))
            if _verbose(ctx):
                traceback.print_exception(exc, file=sys.stderr)
            raise typer.Exit(exit_code_for(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # `memory export | head`: the reader left
                raise
            _print_error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
            raise typer.Exit(EXIT_FAILED) from exc
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: say so without a wall of text unless -v
            if _is_click_exception(exc):
                raise
            _print_error(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
            if _verbose(ctx):
                traceback.print_exception(exc, file=sys.stderr)
            raise typer.Exit(EXIT_FAILED) from exc
        finally:
            state = ctx.obj
            close = getattr(state, "close", None)
            if close is not None:
                close()


def _verbose(ctx: Any) -> bool:
    return bool(getattr(ctx.obj, "verbose", 0))


def _is_click_exception(exc: BaseException) -> bool:
    """Usage errors from the parser (Typer vendors click, so match by name)."""
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)
