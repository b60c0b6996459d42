"""The export commands: ``render`` (a genome to PNG, SVG or PDF), ``gif`` and ``video`` (a run's
evolution). ``polyface.cli`` adds them to its group; like the rest of the command line, each
imports the library inside its body."""

from __future__ import annotations

from pathlib import Path

import click

from polyface import limits
from polyface.cli_support import UserError, check_out_parent, check_run_dir, click_type, quote
from polyface.config import FIELDS


@click.command()
@click.argument("genome", type=click.Path(path_type=Path))
@click.option("--size", type=click_type(FIELDS["size"]), default=1024, show_default=True, help="Output size in px.")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="OUT.png, .svg or .pdf")
@click.option("--background", help="Background colour #rrggbb (default: the genome's).")
def render(genome, size, out, background) -> None:
    """Render a GENOME.json at any size to PNG, SVG or PDF."""
    from polyface.config import parse_colour
    from polyface.genome_io import load_genome
    from polyface.render.cairo import save

    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError(f"{quote(out)}: output extension must be .png, .svg or .pdf")
    g = load_genome(genome)
    if background is not None:
        try:
            g.background[:] = parse_colour(background)
        except ValueError:
            raise UserError(f"option --background must be a colour #rrggbb, got {background!r}") from None
    check_out_parent(out)
    save(g, out, size)
    click.echo(str(out))


def _animation_options(fn):
    for flag, spec, default in (
        ("--fps", limits.FPS, 10), ("--size", limits.FRAME_SIZE, None),
        ("--frames", limits.FRAMES, None), ("--hold", limits.HOLD, 2.0),
    ):
        help = "Re-render frames from their genomes at this size in px." if flag == "--size" else spec.help
        fn = click.option(flag, type=click_type(spec), default=default, show_default=default is not None, help=help)(fn)
    return fn


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), help="OUT.gif (or .mp4); default RUN_DIR/evolution.gif")
@_animation_options
@click.option("--loop/--no-loop", default=True, show_default=True, help="Loop forever.")
@click.option("--caption", is_flag=True, help="Overlay generation and score.")
def gif(run_dir, out, fps, size, frames, hold, loop, caption) -> None:
    """Animate a run's evolution as a GIF (or MP4 when OUT ends in .mp4)."""
    from polyface.runio.gif import make_gif
    from polyface.runio.video import make_video

    check_run_dir(run_dir)
    if out is not None and out.suffix.lower() not in (".gif", ".mp4"):
        raise UserError(f"{quote(out)}: output extension must be .gif or .mp4")
    if out is not None:
        check_out_parent(out)
    if (out is None or out.suffix.lower() == ".gif") and not limits.GIF_FPS.admits(fps):
        raise UserError(f"option --fps must be {limits.GIF_FPS.describe()} for a GIF (.mp4: up to 60), got {fps:g}")
    if out is not None and out.suffix.lower() == ".mp4":
        info = make_video(run_dir, out, fps=fps, size=size, frames=frames, hold=hold)
    else:
        info = make_gif(run_dir, out, fps=fps, size=size, frames=frames, hold=hold, loop=loop, caption=caption)
    click.echo(f"{info.path}  ({info.n_frames} frames, {info.bytes / 1024:.0f} KiB)")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), help="OUT.mp4; default RUN_DIR/evolution.mp4")
@_animation_options
def video(run_dir, out, fps, size, frames, hold) -> None:
    """Animate a run's evolution as an MP4 (needs imageio-ffmpeg: pip install 'polyface[video]')."""
    from polyface.runio.layout import VIDEO
    from polyface.runio.video import make_video

    check_run_dir(run_dir)
    out = out or run_dir / VIDEO
    if out.suffix.lower() != ".mp4":
        raise UserError(f"{quote(out)}: output extension must be .mp4")
    check_out_parent(out)
    info = make_video(run_dir, out, fps=fps, size=size, frames=frames, hold=hold)
    click.echo(f"{info.path}  ({info.n_frames} frames, {info.bytes / 1024:.0f} KiB)")
