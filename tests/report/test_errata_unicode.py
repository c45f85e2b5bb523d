"""A student's text with characters pdflatex cannot typeset still gives an errata PDF."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

from derive.report import latexmk
from derive.report.errata import build_errata, write_errata

# TOML escapes: Greek, CJK, an emoji, a bell and an escape character, an accented letter
HOSTILE = r"claim \u03A9 \u4E2D \U0001F600 \u0007\u001B caf\u00E9"


@pytest.mark.skipif(not latexmk.available() or shutil.which("pdftotext") is None,
                    reason="needs latexmk, pdflatex and pdftotext")
def test_unicode_in_claims_does_not_break_the_errata_build(tmp_path):
    path = tmp_path / "claims" / "rnn-cnn-hw.toml"
    path.parent.mkdir()
    path.write_text(
        f'title = "{HOSTILE}"\nsource = "{HOSTILE}"\nstudent = "{HOSTILE}"\n\n'
        f'[["rnn-cnn-hw/4.3"]]\nlabel = "{HOSTILE}"\ntext = "{HOSTILE}"\nnote = "{HOSTILE}"\n'
    )
    errata = build_errata(path, "rnn-cnn-hw")
    (tmp_path / "out").mkdir()
    pdf = latexmk.compile_pdf(write_errata(errata, tmp_path / "out"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    compact = unicodedata.normalize("NFC", "".join(text.split()))
    assert "claimΩ[U+4E2D][U+1F600]café" in compact
