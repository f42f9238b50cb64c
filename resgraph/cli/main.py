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


# Every command, by name: its module and its one-line summary. A command's module is imported only when it runs,
# and `--help` lists the summaries from here, so adding a command slows no other (click's documented lazy-group
# pattern). tests/cli/test_main.py checks each summary against its command's own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("spec_cmds", "Check spec files or presets; report every problem; exit 0 only if all are valid."),
    "show": ("spec_cmds", "Print a spec with its `extends:` chain resolved and every default filled in."),
    "schema": ("spec_cmds", "Print the JSON Schema of spec files (for editors such as yaml-language-server)."),
    "presets": ("spec_cmds", "List the bundled presets."),
    "kinds": ("spec_cmds",
              "List the design space: every registered block type, shortcut option, stem and attention kind."),
    "summary": ("graph_cmds",
                "Params, MACs (conv + fc multiply-accumulates), depth and activations, per stage and in total."),
    "graph": ("graph_cmds", "Export the graph of SPEC: DOT, SVG/PNG, GraphML or node-link JSON."),
    "lower": ("lower_cmds", "Lower SPEC to a torch.fx GraphModule; print a summary, or its code with --code."),
    "export": ("lower_cmds", "Export SPEC as ONNX and/or a TensorRT engine (random weights unless --weights)."),
    "backends": ("bench_cmds",
                 "List the benchmark backends, and whether each can run here (with the reason when not)."),
    "bench": ("bench_cmds", "Benchmark the product SPECS x backends x batches x precisions; one JSON record per row."),
    "compare": ("compare_cmds",
                "Benchmark several specs side by side: speed relative to the first, its 95 % interval and a verdict."),
    "report": ("report_cmds", "Write Markdown and CSV tables, PNG/SVG plots and index.html from a results file "
                              "(of `bench` or of `train`)."),
    "demo": ("report_cmds",
             "The main job on the CPU: every shortcut option and the plain twin of one network, side by side."),
    "train": ("train_cmds",
              "Train SPECs in turn on the same data order, as the paper trains (SGD, momentum 0.9, decay 1e-4)."),
    "probe": ("train_cmds",
              "Per residual block at initialisation: activation scale, gradient norm, and gradient correlation."),
    "profile": ("latency_cmds",
                "Time every distinct block, stem and head of a design space on this device, and a few whole networks."),
    "predict": ("latency_cmds",
                "Predict each spec's p50 latency and a 90 % interval from a profile, per stage (and block), in ms."),
    "spaces": ("search_cmds", "List the bundled design spaces (a name works wherever a space file does)."),
    "space": ("search_cmds",
              "Print a design space's choices, its size and a few networks drawn from it (each a valid spec)."),
    "search": ("search_cmds",
               "Search a design space (a file or a bundled name) for the best networks within a latency budget."),
}


class ResgraphGroup(click.Group):
    """A group whose commands load lazily and report user errors as one line each, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        where = COMMANDS[cmd_name][0]
        command = getattr(importlib.import_module(f"resgraph.cli.{where}"), cmd_name)
        if not isinstance(command, click.Command):  # a name in COMMANDS that its module does not define
            raise TypeError(f"resgraph.cli.{where}.{cmd_name} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS' summaries: `resgraph --help` imports no command module."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for n in names:
            summary = COMMANDS[n][1] if n in COMMANDS else self.commands[n].get_short_help_str(10_000)
            rows.append((n, click.Command(n, help=summary).get_short_help_str(limit)))  # click's own shortening
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
