"""Text for the PDF's core fonts: Windows-1252 (WinAnsi), the encoding Helvetica is drawn in.

Report values are mostly ASCII enum names and numbers; titles may hold en dashes, accents or
curly quotes, which cp1252 has. Anything else is spelt with its nearest cp1252 letters
(accents dropped by Unicode decomposition) or, failing that, "?", so a PDF is always made and
nothing is silently dropped.
"""

from __future__ import annotations

import unicodedata

# Characters cp1252 lacks that have a common plain spelling.
_SPELLED = {
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2212": "-",  # minus sign
    "\u2192": "->",
    "\u2190": "<-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
}


def to_cp1252(text: str) -> str:
    """``text`` with every character cp1252 cannot encode replaced by a close spelling."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return "".join(_char(char) for char in text)
    return text


def _char(char: str) -> str:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        pass
    else:
        return char
    if char in _SPELLED:
        return _SPELLED[char]
    decomposed = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
    )
    try:
        decomposed.encode("cp1252")
    except UnicodeEncodeError:
        return "?"
    return decomposed or "?"
