"""polyface: pareidolia portraits from random polygons and neural face detectors."""

__version__ = "0.1.0"


def evolve(config, out=None, hooks=(), write=True):
    """Evolve one portrait from a ``polyface.config.Config``; see ``polyface.run.evolve``."""
    from polyface.run import evolve as _evolve

    return _evolve(config, out=out, hooks=hooks, write=write)
