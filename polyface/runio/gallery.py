"""A gallery of runs: ``DIR/<seed>/`` run folders, a contact sheet PNG and a static index.html.

:func:`collect` reads every ``<seed>/result.json`` (``results``); :func:`contact_sheet` draws the
portraits in a grid with seed and score beneath each (``contact_sheet``); :func:`write_index`
writes a self-contained page (no network: no external fonts, scripts or styles) with every
portrait, its numbers and links (``index_page``). This module gathers their public names.
"""

from __future__ import annotations

from polyface.runio.contact_sheet import CONTACT_SHEET, SHEET_BACKGROUND, SHEET_NOTE, SHEET_TEXT, contact_sheet
from polyface.runio.index_page import CSP, INDEX, render_index, write_index
from polyface.runio.results import RESULT, RunSummary, by_score, collect, read_summary
from polyface.runio.text import format_duration, format_score

__all__ = [
    "CONTACT_SHEET",
    "CSP",
    "INDEX",
    "RESULT",
    "SHEET_BACKGROUND",
    "SHEET_NOTE",
    "SHEET_TEXT",
    "RunSummary",
    "by_score",
    "collect",
    "contact_sheet",
    "format_duration",
    "format_score",
    "read_summary",
    "render_index",
    "write_index",
]
