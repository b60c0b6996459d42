"""Every way the search is stricter, or cheaper, than the final check, in one place.

The search scores small, fast, aliased renders at a few sizes; the final check renders with
Cairo, antialiased, at every size up to the print. A candidate that barely passes in the search
would often fail the check (a face box shifts by a few percent of the side from one size to the
next, the prior's correlation by a few hundredths), so the search asks for a little more. Where
it is cheaper (MTCNN's trimmed pyramid, Haar graded only where the others accept), this says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slack:
    """How the judge reads a batch: ``SEARCH`` in the search, ``NONE`` in the final check.

    ``frame``: share of the side added to the rule's face margin (when it has one).
    ``prior``: added to the prior's gate. ``thresholds``: MTCNN's three stage thresholds (None:
    the detector's own, 0.6, 0.7, 0.7). ``skip_below``: MTCNN's pyramid drops the fine levels whose
    windows see faces smaller than this share of ``min_box`` of the side (they cannot become the
    portrait's face). ``depth_side``: MTCNN's depth below a face counts windows at least this share
    of ``min_box`` of the side. ``reference``: MTCNN on its reference (torch) backend, antialiased
    Cairo renders, the Haar cascade as a plain yes or no.
    """

    frame: float = 0.03
    prior: float = 0.03
    thresholds: tuple[float, float, float] | None = (0.8, 0.9, 0.7)
    skip_below: float = 0.5
    depth_side: float = 0.75
    reference: bool = False


SEARCH = Slack()
NONE = Slack(frame=0.0, prior=0.0, thresholds=None, skip_below=0.0, depth_side=0.0, reference=True)
