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


class _GoneReader(io.StringIO):
    """A pipe whose reader has gone after ``lines`` lines (``polyface evolve 2>&1 | head``)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines
        self.tries = 0

    def write(self, text: str) -> int:
        self.tries += 1
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(text)


def test_a_reader_that_goes_away_ends_the_printing_not_the_run():
    out = _GoneReader(lines=1)
    line = ProgressLine(stream=out)
    line.on_generation(_p(1, False))
    line.on_generation(_p(2, True, first=True))  # the pipe breaks here: no exception
    line.on_generation(_p(3, True, first=True))
    assert out.getvalue().split()[1] == "1" and out.tries == 2  # nothing more is tried


def test_a_run_whose_progress_pipe_closes_still_writes_its_portrait(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "polyface", "evolve", "--seed", "31", "--max-generations", "14", "--polish", "0",
           "--set", "work_size=48", "--size", "96", "--set", "threads=1", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.stderr.readline()  # the first progress line, then the reader goes (as `| head -1` does)
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0
    assert (out / "best.png").is_file() and (out / "genome.json").is_file() and (out / "result.json").is_file()
