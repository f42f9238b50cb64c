"""The click group: turns every :class:`ResgraphError` into one-line messages and exit code 2."""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import click

from resgraph.errors import ResgraphError


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    click.echo(f"warning: {message}", err=True)


# OSErrors that say something about a path the user gave (an output that can't be written, a file that vanished)
_USER_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
                errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG, errno.ELOOP, errno.EFBIG, errno.ETXTBSY}


def _users_file(exc: OSError) -> bool:
    """Whether an OSError is about the user's files (exit 2), not a fault of resgraph's (exit 1)."""
    return exc.filename is not None or exc.errno in _USER_ERRNOS


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit): stopped like Ctrl-C, so finished work is kept."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def _internal(exc: BaseException) -> click.exceptions.Exit:
    """Say a bug in resgraph happened, in one line (RESGRAPH_DEBUG=1: the traceback), and give exit code 1."""
    if os.environ.get("RESGRAPH_DEBUG"):
        raise exc
    first = str(exc).splitlines()[0] if str(exc) else ""
    click.echo(f"resgraph: internal error: {type(exc).__name__}: {first} "
               "(set RESGRAPH_DEBUG=1 for the traceback)", err=True)
    return click.exceptions.Exit(1)


# Every command, by name, and where it lives: a command's module is imported only when it runs (or when
# `--help` lists it), so adding a command slows no other. click's documented lazy-group pattern.
COMMANDS: dict[str, str] = {
    "validate": "spec_cmds", "show": "spec_cmds", "schema": "spec_cmds", "presets": "spec_cmds",
    "kinds": "spec_cmds",
    "summary": "graph_cmds", "graph": "graph_cmds",
    "lower": "lower_cmds", "export": "lower_cmds",
    "backends": "bench_cmds", "bench": "bench_cmds", "compare": "compare_cmds",
    "report": "report_cmds", "demo": "report_cmds",
    "train": "train_cmds", "probe": "train_cmds",
    "profile": "latency_cmds", "predict": "latency_cmds",
    "spaces": "search_cmds", "space": "search_cmds", "search": "search_cmds",
}


class ResgraphGroup(click.Group):
    """A group whose commands load lazily and report user errors as one line each, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module = importlib.import_module(f"resgraph.cli.{COMMANDS[cmd_name]}")
        command = getattr(module, cmd_name)
        if not isinstance(command, click.Command):  # a name in COMMANDS that its module does not define
            raise TypeError(f"resgraph.cli.{COMMANDS[cmd_name]}.{cmd_name} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, _terminate)  # a sweep's rows, lock and children end as on Ctrl-C
            try:
                return super().invoke(ctx)
            except ResgraphError as exc:
                for line in exc.lines():
                    click.echo(line, err=True)
                ctx.exit(2)
            except Terminated:
                click.echo("terminated (SIGTERM): finished rows and records are kept", err=True)
                ctx.exit(143)
            except KeyboardInterrupt:
                click.echo("interrupted", err=True)
                ctx.exit(130)
            except click.UsageError as exc:  # bad option or argument: one line, not click's usage block
                name = f" {exc.ctx.command_path.split(' ', 1)[-1]}" if exc.ctx and exc.ctx.parent else ""
                click.echo(f"resgraph{name}: {exc.format_message()}", err=True)
                ctx.exit(2)
            except BrokenPipeError:  # output piped into `head` and closed: not an error
                sys.stderr.close()
                ctx.exit(0)
            except OSError as exc:
                if not _users_file(exc):
                    raise _internal(exc) from None
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"{where}{exc.strerror or exc}", err=True)
                ctx.exit(2)
            except ImportError as exc:  # a package resgraph needs is missing or broken in this environment
                if (exc.name or "resgraph").split(".")[0] == "resgraph":
                    raise _internal(exc) from None
                click.echo(f"resgraph: this command needs the package {exc.name!r}, which cannot be imported "
                           f"({exc}); see the README's set-up", err=True)
                ctx.exit(2)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in resgraph, not in the user's input: one line, exit 1
                raise _internal(exc) from None


@click.group(cls=ResgraphGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="resgraph")
@click.option("--allow-extends", "allow", multiple=True, metavar="DIR", envvar="RESGRAPH_ALLOW_EXTENDS",
              type=click.Path(file_okay=False, path_type=Path),
              help="a folder whose spec files `extends:` may also reach (repeatable; by default only presets and "
                   "files under the named spec's own folder)")
@click.pass_context
def main(ctx: click.Context, allow: tuple[Path, ...]) -> None:
    """resgraph: ResNet specs -> graph -> PyTorch/ONNX/TensorRT -> benchmarks.

    SPEC arguments are spec files (.yaml/.yml/.json) or bundled preset names
    (see `resgraph presets`).
    """
    if allow:
        from resgraph.spec.loader import allow_extends

        ctx.with_resource(allow_extends(*allow))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
