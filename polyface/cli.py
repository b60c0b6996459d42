"""The command line: a thin layer of click commands over the polyface library.

Option types come from the settings' specs (``polyface.config.FIELDS``, ``polyface.limits``).
Each command imports the library inside its body, so that ``--help`` and a mistyped option
answer at once, without loading torch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from polyface import limits
from polyface.cli_export import gif, render, video
from polyface.cli_support import (
    PolyfaceGroup,
    UserError,
    check_out_folder,
    click_type,
)
from polyface.config import FIELDS
from polyface.interrupt import deferred, exit_code, install_terminators, preload, quiet_exit
from polyface.runio.progress import ProgressLine



def _field(key: str) -> click.ParamType:
    return click_type(FIELDS[key])


@click.group(cls=PolyfaceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="polyface")
def cli() -> None:
    """polyface: pareidolia portraits from random polygons and neural face detectors."""


for _command in (render, gif, video):  # the export commands live in polyface.cli_export
    cli.add_command(_command)


def _flag_overrides(**flags) -> list[tuple[str, object]]:
    return [(k, v) for k, v in flags.items() if v is not None]


def _settings(ctx, param, values: tuple[str, ...]) -> list[tuple[str, object]]:
    """``--set KEY=VALUE`` -> (key, value): KEY a setting's key, bare or under its table
    (``--set judge.prior=0.4``), the value read as a TOML value, as a preset file would hold it,
    else taken as the bare text (``--set init=random``)."""
    import tomllib

    from polyface.config import ConfigError, flatten

    out = []
    for item in values:
        try:
            item.encode("utf-8")  # text a preset file could hold: no bytes the locale could not decode
        except UnicodeEncodeError:
            raise UserError(f"option --set must be UTF-8 text, got {item!r}") from None
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise UserError(
                f"option --set must be KEY=VALUE with a setting's key as in a preset file (--set polish=50), got {item!r}"
            )
        try:
            parsed = tomllib.loads(f"v = {text}")
        except tomllib.TOMLDecodeError:
            parsed = {}
        value = parsed["v"] if parsed.keys() == {"v"} else text.strip()
        table, dot, name = key.strip().rpartition(".")
        if dot:  # a key under its table: it must be that table's
            try:
                flatten({table: {name: value}}, "option --set")
            except ConfigError as e:
                raise UserError(str(e)) from None
        out.append((name, value))
    return out


def resolve_config(preset: str, overrides: list[tuple[str, object]], settings: list[tuple[str, object]] = ()):
    """Preset, then the ``--set`` settings together as a preset file's would be, then each flag
    over them; a bad value names its option."""
    from polyface.config import apply
    from polyface.preset import load_preset

    cfg = load_preset(preset)
    if settings:
        cfg = apply(cfg, dict(settings), "option --set")  # a key given twice: the last one
    # click hands flags over in command-line order; the palette is checked against --colour
    for key, value in sorted(overrides, key=lambda kv: kv[0] == "palette"):
        cfg = apply(cfg, {key: value}, f"option --{key.replace('_', '-')}")
    return cfg


def _page_options(live_help: str | None = None):
    def wrap(fn):
        fn = click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")(fn)
        fn = click.option("--port", type=click_type(limits.PORT), default=0, show_default=True, help=limits.PORT.help)(fn)
        if live_help:
            fn = click.option("--live", is_flag=True, help=live_help)(fn)
        return fn

    return wrap


@cli.command()
@click.option("--preset", default="default", show_default=True, help="Built-in preset name or a .toml file.")
@click.option(
    "--set", "settings", multiple=True, metavar="KEY=VALUE", callback=_settings,
    help="Any setting by its key in a preset file, bare or under its table, the value as TOML (a bare word is "
    "text): --set polish=50, --set judge.prior=0.4, --set 'search_sizes=[96,128]', --set init=random. Repeatable; applied over the preset, and the other options over it.",
)
@click.option("--seed", type=_field("seed"), help="Random seed (drawn and recorded when not given).")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default outputs/<stamp>-<preset>-s<seed>).")
@click.option("--size", type=_field("size"), help="Output size of best.png/best.svg in px.")
@click.option("--polygons", type=_field("polygons"), help="Number of polygons to start with.")
@click.option("--vertices", type=_field("vertices"), help="Vertices per polygon.")
@click.option("--colour", "--color", "colour", type=_field("colour"), help="Colour mode.")
@click.option("--symmetric/--no-symmetric", default=None, help="Mirror polygons about the vertical axis.")
@click.option("--init", type=_field("init"), help="How shapes start: at random, greys from the mean face, or a face's layout.")
@click.option("--oval", type=_field("oval"), help="Keep every shape inside a centred oval this share of the canvas wide (0: anywhere).")
@click.option(
    "--palette", help="Colours to paint with: '#1e1e1e,#e0c097,...' or a name (skin, duotone, grey2012, greys)."
)
@click.option(
    "--polish", type=_field("polish"),
    help="Generations to go on after the first verified portrait, keeping the last one verified (0: stop at the first).",
)
@click.option("--contrast", type=_field("contrast"), help=limits.CONTRAST.help)
@click.option("--max-generations", type=_field("max_generations"), help="Stop after this many generations.")
@click.option(
    "--time-limit",
    type=_field("time_limit"),
    help="Stop the search after this many seconds; the final check at every size comes on top (verify_s in result.json).",
)
@click.option("--device", type=_field("device"), help="Where to score.")
@click.option("--gif/--no-gif", default=None, help="Write evolution.gif into the run folder at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress; print only the run folder.")
@click.option(
    "--resume", "resume_dir", type=click.Path(path_type=Path),
    help="Continue the interrupted run in this folder (other flags but the stop rules are ignored).",
)
@_page_options("Serve a live page of the run; its URL is the first line printed.")
def evolve(preset, settings, out, quiet, resume_dir, live, port, open_browser, **flags) -> None:
    """Evolve one portrait. The last line printed is the run folder.

    The settings are the preset's, then each --set over them, then the other options."""
    with deferred():  # a Ctrl-C inside a native extension's import would abort, not exit 130
        import polyface.run as run
        from polyface.runio.live import LivePage

        preload("onnxruntime", "cv2")  # the detectors import them when they are built

    hooks = [] if quiet else [ProgressLine()]
    page = LivePage(port, open_browser, click.echo) if live or open_browser else None
    try:
        if resume_dir is not None:
            stops = {k: flags[k] for k in ("max_generations", "time_limit")}  # checked by their option types
            if page:
                run.resume_settings(resume_dir, **stops)  # a folder it cannot resume is refused before the URL
                hooks.append(page.attach(resume_dir))
            result = run.resume(resume_dir, hooks=hooks, **stops)
        else:
            cfg = run.with_seed(resolve_config(preset, _flag_overrides(**flags), settings))
            if out is not None:
                check_out_folder(out, "option --out")
            run.pick_device(cfg.device)  # a missing GPU is an error before any work
            if page:
                out = out or run.default_out(cfg)
                run.check_new(out)  # a folder it cannot write is refused before the URL
                hooks.append(page.attach(out, cfg.to_dict()))
            result = run.evolve(cfg, out=out, hooks=hooks)
    finally:
        if page:
            page.close()
    if "profile" in result.extra and not quiet:
        from polyface.search.timing import format_table

        click.echo(format_table(result.extra["profile"]))
    click.echo(str(result.extra["out"]))
    return exit_code() if result.status == "interrupted" else 0


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@_page_options()
def show(run_dir, port, open_browser) -> None:
    """Serve a page of a run folder (finished or running) until Ctrl-C; its URL is printed first."""
    from polyface.runio.live_show import show_run

    show_run(run_dir, port, open_browser, click.echo)


@cli.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
@click.option("--preset", default="default", show_default=True, help="The preset whose judge scores (members and rule).")
@click.option("--min-box", type=click_type(limits.MIN_BOX), help=limits.MIN_BOX.help + " (default: the preset's)")
@click.option("--face-margin", type=click_type(limits.FACE_MARGIN), help=limits.FACE_MARGIN.help + " (default: the preset's)")
@click.option("--device", type=_field("device"), default="cpu", show_default=True, help="Where to score.")
def score(images, as_json, preset, min_box, face_margin, device) -> None:
    """Judge IMAGES as the final check judges a portrait: MTCNN's faces, each member's yes or no
    (MTCNN, and BlazeFace, the mean-face prior and the Haar cascade where the preset has them),
    and PORTRAIT where every member says yes."""
    from polyface.judge.judge import judge_for
    from polyface.placement import pick_device
    from polyface.preset import load_preset
    from polyface.score import load_image, score_images

    cfg = load_preset(preset)
    cfg = cfg.replace(**{k: v for k, v in (("min_box", min_box), ("face_margin", face_margin)) if v is not None})
    torch_device = pick_device(device)
    for p in images:  # fail before any work on a bad file
        load_image(p)
    for s in score_images(list(images), judge_for(cfg, torch_device)):
        if as_json:
            click.echo(json.dumps(s.to_dict()))
            continue
        faces = "; ".join(f"box {f['box']} p {f['prob']:.4f}" for f in s.faces) or "no faces"
        click.echo(f"{s.path}: {'PORTRAIT' if s.portrait else 'not a portrait'} ({faces})")
        for v in s.detectors.values():
            extra = [f"p {v['faces'][0]['prob']:.4f}"] if v.get("faces") else []
            extra += [f"{k} {v[k]:+.3f}" for k in ("correlation",) if k in v]
            click.echo(f"  {v['label']:16s} {'yes' if v['portrait'] else 'no'}" + (f" ({', '.join(extra)})" if extra else ""))


@cli.command()
def presets() -> None:
    """List the built-in presets."""
    from polyface.preset import describe_presets

    for name, desc in describe_presets():
        click.echo(f"{name:12s} {desc}")


@cli.command()
@click.option("-n", "n", type=click_type(limits.GALLERY_RUNS), required=True, help=limits.GALLERY_RUNS.help)
@click.option("--preset", default="default", show_default=True, help="Built-in preset name or a .toml file.")
@click.option("--seed-start", type=click_type(limits.SEED_START), default=0, show_default=True, help="First seed.")
@click.option(
    "--time-limit",
    type=_field("time_limit"),
    help="Seconds of search per portrait; the final check at every size up to the print comes on top "
    "(result.json records it as verify_s).",
)
@click.option(
    "--workers",
    type=click_type(limits.WORKERS),
    default=0,
    help="Seeds at once (default: one per core; with Ray, the cluster's CPUs).",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("outputs/gallery"), show_default=True)
@click.option("--size", type=_field("size"), help="Output size of each portrait in px.")
@click.option("--device", type=_field("device"), help="Where to score.")
@click.option("--gif/--no-gif", default=True, show_default=True, help="An evolution.gif for each portrait.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where seeds run: local processes, or a Ray cluster (pip install 'polyface[ray]').")
@click.option("--address", help="Ray cluster to join (HEAD:6379; default $RAY_ADDRESS, else a local one).")
def gallery(n, preset, seed_start, time_limit, workers, out, size, device, gif, engine, address) -> None:
    """Evolve N portraits (seeds S..S+N-1) into OUT/<seed>/, then a contact sheet and index.html."""
    from polyface.batch import run_gallery
    from polyface.engines import EngineUnavailable, get_engine

    if out.exists() and not out.is_dir():
        raise UserError(f"option --out: {out} exists and is not a folder")
    check_out_folder(out, "option --out")
    cfg = resolve_config(preset, _flag_overrides(time_limit=time_limit, size=size, device=device))
    from polyface.placement import pick_device

    pick_device(cfg.device)  # a missing GPU is an error before any seed starts
    if address is not None and engine != "ray":
        raise UserError("option --address needs --engine ray")
    try:
        runner = get_engine(engine, workers, address)
        runner.start()  # Ray: join the cluster or start a local one; a cluster that is not there is an error
    except EngineUnavailable as e:
        raise UserError(str(e)) from None
    shown = [0.0]

    def report(o, progress) -> None:
        if o.final or o.status == "retrying":
            click.echo(f"seed {o.seed}: {o.status} {o.detail}".rstrip(), err=True)
        if o.final or time.monotonic() - shown[0] >= 5.0:
            shown[0] = time.monotonic()
            click.echo(progress.line(), err=True)

    outcomes = run_gallery(cfg, n, out, seed_start=seed_start, on_event=report, gif=gif, engine=runner)
    click.echo(str(out / "index.html"))
    if any(o.status == "interrupted" for o in outcomes):
        return exit_code()
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        click.echo(f"polyface: {len(failed)} of {len(outcomes)} seeds failed (see above)", err=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Run the command line; Ctrl-C at any moment exits 130 quietly, SIGTERM 143 and SIGHUP 129
    (``polyface.entry`` covers the imports before it)."""
    install_terminators()
    try:
        cli.main(args=argv, prog_name="polyface")
    except KeyboardInterrupt:
        quiet_exit()


if __name__ == "__main__":
    main()
