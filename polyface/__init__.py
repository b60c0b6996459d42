"""polyface: pareidolia portraits from random polygons and neural face detectors."""

from polyface._version import __version__

__all__ = ["__version__", "evolve"]


def evolve(config, out=None, hooks=(), write=True):
    """Evolve one portrait from a ``polyface.config.Config``; see ``polyface.run.evolve``."""
    # Imported here so that ``import polyface.genome`` (or the CLI's --help) does not load torch.
    from polyface.run import evolve as _evolve

    return _evolve(config, out=out, hooks=hooks, write=write)
