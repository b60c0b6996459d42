"""The judge: what a portrait is, and one verdict for every caller (the search, the final
check, ``polyface score`` and the run pages). See docs/scoring.md."""
