"""The command line's plumbing: option types derived from the settings' specs, and the error
handling that turns a user's mistake into one line on stderr with exit code 2."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from polyface import interrupt
from polyface.interrupt import by_ctrl_c
from polyface.limits import Spec

EXIT_USAGE = 2


def quote(path) -> str:
    """A path as text for a one-line message (Python-quoted when it holds control characters)."""
    from polyface.validate import quote as _quote

    return _quote(path)


def one_line(message) -> str:
    """``message`` with control characters escaped, so that it prints as one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))


class UserError(click.ClickException):
    """A user mistake: one line on stderr, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"polyface: error: {one_line(self.format_message())}", err=True)


class _SpecMixin:
    """Parses like its click type; a value out of the spec is one line naming the option and range."""

    spec: Spec

    def convert(self, value, param, ctx):
        name = param.opts[0] if param is not None and param.opts else "value"
        try:
            out = super().convert(value, param, ctx)
        except click.BadParameter:
            raise UserError(f"option {name} must be {self.spec.describe()}, got {value}") from None
        if isinstance(out, float) and not math.isfinite(out):
            raise UserError(f"option {name} must be {self.spec.describe()}, got {value}")
        return out


class _IntSpec(_SpecMixin, click.IntRange):
    pass


class _FloatSpec(_SpecMixin, click.FloatRange):
    pass


class _ChoiceSpec(_SpecMixin, click.Choice):
    pass


def click_type(spec: Spec) -> click.ParamType:
    """The click option type of a setting's spec: Choice, IntRange or FloatRange over its limits."""
    if spec.choices:
        t = _ChoiceSpec(spec.choices)
    elif spec.kind is int:
        t = _IntSpec(spec.lo, spec.hi)
    elif spec.kind is float:
        t = _FloatSpec(spec.lo, spec.hi)
    else:
        raise ValueError(f"no click type for a {spec.kind.__name__} setting")
    t.spec = spec
    return t


def _user_errors():
    """The library's exception types that mean bad input, not a bug."""
    from polyface.config import ConfigError
    from polyface.detect.haar import HaarUnavailable
    from polyface.genome import GenomeError
    from polyface.placement import DeviceError
    from polyface.runio.layout import RunFolderError
    from polyface.score import ImageError
    from polyface.runio.live_server import LiveError
    from polyface.runio.live_show import ShowError
    from polyface.validate import FieldError, FileKindError

    errors = [ConfigError, GenomeError, DeviceError, RunFolderError, ImageError, HaarUnavailable, FieldError, FileKindError]
    errors += [LiveError, ShowError]
    try:
        from polyface.runio.video import MissingDependency

        errors.append(MissingDependency)
    except ImportError:
        pass
    return tuple(errors)


class PolyfaceGroup(click.Group):
    """Runs a command so that user mistakes end with one line on stderr and exit code 2,
    and Ctrl-C with exit code 130, SIGTERM 143, SIGHUP 129 (the run saves its best portrait first)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            if code in interrupt.EXIT_CODES:  # the run has saved; an import Ctrl-C cut short must not run again at exit
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra) -> int:
        errors: tuple = ()
        try:
            errors = _user_errors()  # imports torch: inside the try, since Ctrl-C may land here
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as e:
            return e.exit_code
        except UserError as e:
            e.show()
            return EXIT_USAGE
        except click.ClickException as e:
            click.echo(f"polyface: error: {one_line(e.format_message())}", err=True)
            return EXIT_USAGE
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo(interrupt.message(), err=True)
            return interrupt.exit_code()
        except Exception as e:
            if isinstance(e, errors):
                click.echo(f"polyface: error: {one_line(e)}", err=True)
                return EXIT_USAGE
            if by_ctrl_c(e):  # a Ctrl-C that a library raised again as its own error
                click.echo(interrupt.message(), err=True)
                return interrupt.exit_code()
            if isinstance(e, OSError):  # a genuine I/O failure while working: one line, exit 1
                where = f"{quote(e.filename)}: " if e.filename else ""
                click.echo(f"polyface: error: {one_line(where + (e.strerror or str(e)))}", err=True)
                return 1
            raise
        return rv if isinstance(rv, int) else 0


def check_out_parent(out: Path) -> None:
    """An output file must not be a folder, and its folder must pass ``check_out_folder``."""
    if out.is_dir():
        raise UserError(f"{quote(out)}: is a folder; give a file name")
    if os.path.islink(out) and not out.exists():
        raise UserError(f"{quote(out)}: is a dangling link; remove it or give another file name")
    if os.path.lexists(out) and not out.is_file():
        raise UserError(f"{quote(out)}: exists and is not a regular file")
    check_out_folder(out.parent if str(out.parent) else Path("."), quote(out))


def check_out_folder(out: Path, what: str) -> None:
    """An output folder (made if missing) must not be, or lie under, a file or a dangling link,
    and must be one where files can be made (not read-only, not /proc)."""
    from polyface.atomic import probe_folder

    if os.path.lexists(out) and not out.is_dir():
        kind = "a dangling link" if os.path.islink(out) and not out.exists() else "not a folder"
        raise UserError(f"{what}: {quote(out)} exists and is {kind}")
    parent = out
    while not os.path.lexists(parent):
        parent = parent.parent
    if not parent.is_dir():
        kind = "a dangling link" if os.path.islink(parent) and not parent.exists() else "not a folder"
        raise UserError(f"{what}: {quote(out)}: {quote(parent)} is {kind}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what}: {quote(out)}: folder {quote(parent)} is not writable")
    try:
        probe_folder(parent)
    except OSError as e:
        raise UserError(f"{what}: {quote(out)}: no file can be made in {quote(parent)} ({e.strerror or e})") from None


def check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise UserError(f"{quote(run_dir)}: not a run folder (no such folder)")
