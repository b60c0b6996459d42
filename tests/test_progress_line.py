"""The live progress line: throttled, but the first verified portrait is always shown."""

import io

from polyface.runio.progress import ProgressLine
from polyface.search.loop import Progress


def _p(generation: int, portrait: bool, first: bool = False) -> Progress:
    return Progress(generation=generation, evaluations=10 * generation, best=2.5, mean=1.0, elapsed_s=0.1 * generation,
                    portrait=portrait, best_prob=0.99, first_portrait=first)  # fmt: skip


def test_first_portrait_is_printed_between_throttled_lines():
    out = io.StringIO()  # not a terminal: a line every 5 s at most
    line = ProgressLine(stream=out)
    for g, portrait, first in [(1, False, False), (2, False, False), (3, True, True), (4, True, False), (5, True, False)]:
        line.on_generation(_p(g, portrait, first))
    printed = out.getvalue().splitlines()
    assert [x.split()[1] for x in printed] == ["1", "3"]
    assert printed[1].endswith("PORTRAIT") and not printed[0].endswith("PORTRAIT")
