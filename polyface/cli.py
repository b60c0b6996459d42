"""The command line: a thin layer of click commands over the polyface library."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """A user mistake: one line on stderr, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"polyface: error: {self.format_message()}", err=True)


def _user_errors():
    """The library's exception types that mean bad input, not a bug."""
    from polyface.config import ConfigError
    from polyface.detect.haar import HaarUnavailable
    from polyface.genome import GenomeError
    from polyface.run import DeviceError
    from polyface.runio.run_folder import RunFolderError
    from polyface.score import ImageError

    from polyface.runio.live_server import LiveError
    from polyface.runio.live_show import ShowError

    errors = [ConfigError, GenomeError, DeviceError, RunFolderError, ImageError, HaarUnavailable, LiveError, ShowError]
    try:
        from polyface.runio.animate import MissingDependency, RunFolderError as AnimRunError

        errors += [MissingDependency, AnimRunError]
    except ImportError:
        pass
    return tuple(errors)


# ---- progress ------------------------------------------------------------------------------


class ProgressLine:
    """Live progress on stderr: generation, best score, evals/s and the portrait verdict."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.tty = sys.stderr.isatty()
        self.every_s = every_s if self.tty else 5.0
        self.last = 0.0

    def _line(self, p) -> str:
        verdict = "PORTRAIT" if p.portrait else ("face" if p.best >= 1 else "searching")
        return (
            f"gen {p.generation:6d}  best {p.best:6.3f}  face p {p.best_prob:6.4f}  "
            f"{p.evals_per_s:7.0f} evals/s  {p.elapsed_s:6.1f}s  {verdict}"
        )

    def on_generation(self, p) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s and not p.portrait:
            return
        self.last = now
        if self.tty:
            click.echo("\r" + self._line(p) + "\x1b[K", err=True, nl=False)
        else:
            click.echo(self._line(p), err=True)

    def on_end(self, r) -> None:
        if self.tty:
            click.echo("", err=True)
        sizes = ", ".join(f"{s}px {'ok' if ok else 'no'} ({pr:.3f})" for s, (ok, pr, _) in sorted(r.verdict.sizes.items()))
        click.echo(
            f"{r.status}: score {r.score:.3f}, portrait {'yes' if r.portrait else 'no'} "
            f"after {r.generations} generations, {r.evaluations} evaluations, {r.elapsed_s:.1f}s [{sizes}]",
            err=True,
        )


# ---- commands ------------------------------------------------------------------------------


class PolyfaceGroup(click.Group):
    """Runs a command so that user mistakes end with one line on stderr and exit code 2,
    and Ctrl-C with exit code 130 (the run saves its best portrait first)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra) -> int:
        errors = _user_errors()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as e:
            return e.exit_code
        except UserError as e:
            e.show()
            return EXIT_USAGE
        except click.ClickException as e:
            click.echo(f"polyface: error: {e.format_message()}", err=True)
            return EXIT_USAGE
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("polyface: interrupted", err=True)
            return EXIT_INTERRUPTED
        except errors as e:
            click.echo(f"polyface: error: {e}", err=True)
            return EXIT_USAGE
        return rv if isinstance(rv, int) else 0


@click.group(cls=PolyfaceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="polyface")
def cli() -> None:
    """polyface: pareidolia portraits from random polygons and neural face detectors."""


def _flag_overrides(**flags) -> list[tuple[str, object]]:
    return [(k, v) for k, v in flags.items() if v is not None]


def resolve_config(preset: str, overrides: list[tuple[str, object]]):
    """Preset, then each flag over it; a bad flag value names the flag."""
    from polyface.config import apply, load_preset

    cfg = load_preset(preset)
    # click hands flags over in command-line order; the palette is checked against --colour
    for key, value in sorted(overrides, key=lambda kv: kv[0] == "palette"):
        cfg = apply(cfg, {key: value}, f"option --{key.replace('_', '-')}")
    return cfg


def _page_options(live_help: str | None = None):
    def wrap(fn):
        fn = click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")(fn)
        fn = click.option("--port", type=int, default=0, show_default=True, help="Port of the page (0: any free one).")(fn)
        if live_help:
            fn = click.option("--live", is_flag=True, help=live_help)(fn)
        return fn

    return wrap


@cli.command()
@click.option("--preset", default="default", show_default=True, help="Built-in preset name or a .toml file.")
@click.option("--seed", type=int, help="Random seed (drawn and recorded when not given).")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default outputs/<stamp>-<preset>-s<seed>).")
@click.option("--size", type=int, help="Output size of best.png/best.svg in px.")
@click.option("--work-size", type=int, help="Working (search) canvas size in px.")
@click.option("--polygons", type=int, help="Number of polygons to start with.")
@click.option("--vertices", type=int, help="Vertices per polygon.")
@click.option("--colour", "--color", "colour", help="grey or rgba.")
@click.option("--symmetric/--no-symmetric", default=None, help="Mirror polygons about the vertical axis.")
@click.option("--palette", help="Colours to paint with: '#1e1e1e,#e0c097,...' or a name (skin, duotone, grey2012, greys).")
@click.option("--strategy", help="population or hillclimb.")
@click.option("--population", type=int, help="Children per generation.")
@click.option("--target", type=float, help="Face probability the portrait must reach at every size.")
@click.option("--max-generations", type=int, help="Stop after this many generations.")
@click.option("--time-limit", type=float, help="Stop after this many seconds.")
@click.option("--device", help="auto, cpu or cuda.")
@click.option("--threads", type=int, help="CPU threads for torch (0: all cores).")
@click.option("--frame-size", type=int, help="Size of the frames written on each improvement.")
@click.option("--gif/--no-gif", default=None, help="Write evolution.gif into the run folder at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress; print only the run folder.")
@click.option(
    "--resume", "resume_dir", type=click.Path(path_type=Path),
    help="Continue the interrupted run in this folder (other flags but the stop rules are ignored).",
)
@_page_options("Serve a live page of the run; its URL is the first line printed.")
def evolve(preset, out, quiet, resume_dir, live, port, open_browser, **flags) -> None:
    """Evolve one portrait. The last line printed is the run folder."""
    import polyface.run as run
    from polyface.runio.live import LivePage

    hooks = [] if quiet else [ProgressLine()]
    page = LivePage(port, open_browser, click.echo) if live or open_browser else None
    try:
        if resume_dir is not None:
            stops = {k: flags[k] for k in ("max_generations", "time_limit")}
            for key, value in stops.items():
                if value is not None:
                    resolve_config("default", [(key, value)])  # validates the value, naming the flag
            if page:
                hooks.append(page.attach(resume_dir))
            result = run.resume(resume_dir, hooks=hooks, **stops)
            cfg = result.extra["config"]
        else:
            cfg = run.with_seed(resolve_config(preset, _flag_overrides(**flags)))
            if out is not None:
                _check_out_folder(out, "option --out")
            run.pick_device(cfg.device)  # a missing GPU is an error before any work
            if page:
                out = out or run.default_out(cfg)
                hooks.append(page.attach(out, cfg.to_dict()))
            result = run.evolve(cfg, out=out, hooks=hooks)
    finally:
        if page:
            page.close()
    folder = result.extra["out"]
    if cfg.gif and result.status != "interrupted":
        from polyface.runio.animate import make_gif

        make_gif(folder)
    click.echo(str(folder))
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@_page_options()
def show(run_dir, port, open_browser) -> None:
    """Serve a page of a run folder (finished or running) until Ctrl-C; its URL is printed first."""
    from polyface.runio.live import show_run

    show_run(run_dir, port, open_browser, click.echo)


@cli.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
@click.option("--min-box", type=float, default=0.5, show_default=True, help="Face box share of the canvas.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
def score(images, as_json, min_box, device) -> None:
    """Detect faces in IMAGES and say whether each passes the portrait rule."""
    from polyface.config import check_value
    from polyface.detect import FaceDetector
    from polyface.run import pick_device
    from polyface.score import load_image, score_images

    if not 0.05 <= min_box <= 1.0:
        raise UserError(f"option --min-box must be a number in 0.05..1, got {min_box}")
    torch_device = pick_device(check_value("device", device, "option --device"))
    for p in images:  # fail before any work on a bad file
        load_image(p)
    det = FaceDetector(device=torch_device)
    for s in score_images(list(images), det, min_box):
        if as_json:
            click.echo(json.dumps(s.to_dict()))
        else:
            faces = "; ".join(f"box {f['box']} p {f['prob']:.4f}" for f in s.faces) or "no faces"
            click.echo(f"{s.path}: {'PORTRAIT' if s.portrait else 'not a portrait'} ({faces})")


@cli.command()
def presets() -> None:
    """List the built-in presets."""
    from polyface.config import describe_presets

    for name, desc in describe_presets():
        click.echo(f"{name:12s} {desc}")


@cli.command()
@click.argument("genome", type=click.Path(path_type=Path))
@click.option("--size", type=int, default=1024, show_default=True, help="Output size in px (16..16384).")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="OUT.png, .svg or .pdf")
@click.option("--background", help="Background colour #rrggbb (default: the genome's).")
def render(genome, size, out, background) -> None:
    """Render a GENOME.json at any size to PNG, SVG or PDF."""
    from polyface.config import parse_colour
    from polyface.genome import from_json
    from polyface.render.cairo import save

    if not 16 <= size <= 16384:
        raise UserError(f"option --size must be an integer in 16..16384, got {size}")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError(f"{out}: output extension must be .png, .svg or .pdf")
    g = _read_genome(genome)
    if background is not None:
        try:
            g.background[:] = parse_colour(background)
        except ValueError:
            raise UserError(f"option --background must be a colour #rrggbb, got {background!r}") from None
    _check_out_parent(out)
    save(g, out, size)
    click.echo(str(out))


def _read_genome(path: Path):
    from polyface.genome import GenomeError, from_json

    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a genome file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such genome file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file (genomes are JSON)") from None
    except OSError as e:
        raise UserError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        return from_json(text)
    except GenomeError as e:
        raise UserError(f"{path}: {e}") from None


def _check_out_parent(out: Path) -> None:
    """An output file must not be a folder, and its folder must pass ``_check_out_folder``."""
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give a file name")
    _check_out_folder(out.parent if str(out.parent) else Path("."), str(out))


def _check_out_folder(out: Path, what: str) -> None:
    """An output folder (made if missing) must not be, or lie under, a file and must be writable."""
    import os

    if out.exists() and not out.is_dir():
        raise UserError(f"{what}: {out} exists and is not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{what}: {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what}: {out}: folder {parent} is not writable")


def _animation_options(fn):
    fn = click.option("--fps", type=int, default=10, show_default=True, help="Frames per second (1..60).")(fn)
    fn = click.option("--size", type=int, help="Re-render frames from their genomes at this size.")(fn)
    fn = click.option("--frames", type=int, help="Pick this many frames spread over the run.")(fn)
    fn = click.option("--hold", type=float, default=2.0, show_default=True, help="Seconds on the final portrait.")(fn)
    return fn


def _check_animation(fps, size, frames, hold) -> None:
    if not 1 <= fps <= 60:
        raise UserError(f"option --fps must be an integer in 1..60, got {fps}")
    if size is not None and not 16 <= size <= 4096:
        raise UserError(f"option --size must be an integer in 16..4096, got {size}")
    if frames is not None and not 2 <= frames <= 10000:
        raise UserError(f"option --frames must be an integer in 2..10000, got {frames}")
    if not 0 <= hold <= 60:
        raise UserError(f"option --hold must be a number of seconds in 0..60, got {hold}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), help="OUT.gif (or .mp4); default RUN_DIR/evolution.gif")
@_animation_options
@click.option("--loop/--no-loop", default=True, show_default=True, help="Loop forever.")
@click.option("--caption", is_flag=True, help="Overlay generation and score.")
def gif(run_dir, out, fps, size, frames, hold, loop, caption) -> None:
    """Animate a run's evolution as a GIF (or MP4 when OUT ends in .mp4)."""
    from polyface.runio import animate

    _check_animation(fps, size, frames, hold)
    _check_run_dir(run_dir)
    if out is not None and out.suffix.lower() not in (".gif", ".mp4"):
        raise UserError(f"{out}: output extension must be .gif or .mp4")
    if out is not None:
        _check_out_parent(out)
    if (out is None or out.suffix.lower() == ".gif") and fps > animate.GIF_MAX_FPS:
        raise UserError(f"option --fps must be an integer in 1..{animate.GIF_MAX_FPS} for a GIF (1..60 for .mp4), got {fps}")
    if out is not None and out.suffix.lower() == ".mp4":
        info = animate.make_video(run_dir, out, fps=fps, size=size, frames=frames, hold=hold)
    else:
        info = animate.make_gif(run_dir, out, fps=fps, size=size, frames=frames, hold=hold, loop=loop, caption=caption)
    click.echo(f"{info.path}  ({info.n_frames} frames, {info.bytes / 1024:.0f} KiB)")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), help="OUT.mp4; default RUN_DIR/evolution.mp4")
@_animation_options
def video(run_dir, out, fps, size, frames, hold) -> None:
    """Animate a run's evolution as an MP4 (needs imageio-ffmpeg: pip install 'polyface[video]')."""
    from polyface.runio import animate

    _check_animation(fps, size, frames, hold)
    _check_run_dir(run_dir)
    out = out or run_dir / "evolution.mp4"
    if out.suffix.lower() != ".mp4":
        raise UserError(f"{out}: output extension must be .mp4")
    _check_out_parent(out)
    info = animate.make_video(run_dir, out, fps=fps, size=size, frames=frames, hold=hold)
    click.echo(f"{info.path}  ({info.n_frames} frames, {info.bytes / 1024:.0f} KiB)")


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run folder (no such folder)")


@cli.command()
@click.option("-n", "n", type=int, required=True, help="Number of portraits.")
@click.option("--preset", default="default", show_default=True, help="Built-in preset name or a .toml file.")
@click.option("--seed-start", type=int, default=0, show_default=True, help="First seed.")
@click.option("--time-limit", type=float, help="Seconds per portrait.")
@click.option("--workers", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("outputs/gallery"), show_default=True)
@click.option("--size", type=int, help="Output size of each portrait in px.")
@click.option("--device", help="auto, cpu or cuda.")
@click.option("--gif/--no-gif", default=True, show_default=True, help="An evolution.gif for each portrait.")
def gallery(n, preset, seed_start, time_limit, workers, out, size, device, gif) -> None:
    """Evolve N portraits (seeds S..S+N-1) into OUT/<seed>/, then a contact sheet and index.html."""
    from polyface.batch import run_gallery

    if not 1 <= n <= 100000:
        raise UserError(f"option -n must be an integer in 1..100000, got {n}")
    if not 0 <= seed_start <= 2**62:
        raise UserError(f"option --seed-start must be an integer in 0..{2**62}, got {seed_start}")
    if not 0 <= workers <= 256:
        raise UserError(f"option --workers must be an integer in 0..256, got {workers}")
    if out.exists() and not out.is_dir():
        raise UserError(f"option --out: {out} exists and is not a folder")
    _check_out_folder(out, "option --out")
    cfg = resolve_config(preset, _flag_overrides(time_limit=time_limit, size=size, device=device))
    from polyface.run import pick_device

    pick_device(cfg.device)  # a missing GPU is an error before any seed starts

    def report(o) -> None:
        click.echo(f"seed {o.seed}: {o.status} {o.detail}".rstrip(), err=True)

    outcomes = run_gallery(cfg, n, out, seed_start=seed_start, workers=workers, on_done=report, gif=gif)
    click.echo(str(out / "index.html"))
    if any(o.status == "interrupted" for o in outcomes):
        return EXIT_INTERRUPTED
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        click.echo(f"polyface: {len(failed)} of {len(outcomes)} seeds failed (see above)", err=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``polyface`` command."""
    cli.main(args=argv, prog_name="polyface")


if __name__ == "__main__":
    main()
