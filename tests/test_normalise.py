"""Tunes of other collections rewritten in irish.abc's dialect: the text changes, the music does not."""
from __future__ import annotations

from fractions import Fraction

import pytest

from musictui.audio import check_abc
from musictui.normalise import Dropped, normalise, parse_length, spell_key, write_length

# O'Neill's first tune as music21 ships it: spaced fields, L:1/16, notes, a transcriber, grace
# notes, staccato dots, and a K: in the short form.
ONEILL_1 = """X: 1
T: The Enchanted Valley
M: 2/4
L: 1/16
B: "O'Neill's 1"
N: "Very slow" "collected by J. O'Neill"
Z: "Transcribed by Norbert Paap, norbertp@bdu.uva.nl"
K:Gm
G3A (Bcd=e) | f4 (g2dB) | ({d}c3B) G2E2 | F4 (D2=E^F) |
G3A (Bcd=e) | f4 d2f2 | (g2a2 b2).g2 | {b}(a2g2 f2).d2 ||"""

RYAN = """X:1
T:ACROBAT'S -- HORNPIPE
R:hornpipe
M:C|
L:1/8
K: Bb % in B flat
"_mf"uF>E \\
| D>FB>c d>Bg>f | ((3ecA) ((3ecA) a3g | f>=e_e>c A>ag>f | =e>fg>f d>BF>E |
| D>FB>c d>Bg>f | ~((3ecA) ((3ecA) a3g | !trill!f>=e_e>c A>ag>A | B2d2B2 :|"""


def test_header_is_irish_abcs():
    tune = normalise(ONEILL_1).text
    lines = tune.split("\n")
    assert lines[:5] == ["X:1", "T:The Enchanted Valley", "M:2/4", "L:1/8", "K:G Minor"]
    assert not any(line.startswith(("B:", "N:", "Z:", "R:")) for line in lines)
    assert "{" not in tune and "." not in tune
    assert all(line.endswith("!") for line in lines[5:])  # irish.abc's line break


def test_sixteenths_become_eighths_and_the_music_stays():
    tune = normalise(ONEILL_1).text
    assert "L:1/8" in tune and "f2 (gdB/)" not in tune and "f2 (g" in tune
    # abc2midi plays the same number of notes for the same time (the grace notes are gone, so
    # count those of the original without them).
    original = ONEILL_1.replace("{d}", "").replace("{b}", "")
    before, after = check_abc(original), check_abc(tune)
    assert after.ok and after.bars_ok
    assert (after.notes, round(after.duration_s, 3)) == (before.notes, round(before.duration_s, 3))


def test_ryans_decorations_continuations_and_titles():
    tune = normalise(RYAN, number=7).text
    lines = tune.split("\n")
    assert lines[:5] == ["X:7", "T:Acrobat's", "M:C|", "L:1/8", "K:Bb Major"]
    body = "\n".join(lines[5:])
    for gone in ('"', "~", "!trill!", "u", "\\", "%", " |", "| "):
        assert gone not in body
    assert lines[5].startswith("F>E|D>FB>c")  # the continued pickup line joined to the next
    report = check_abc(tune)
    assert report.ok and report.bars_ok and report.notes > 40


@pytest.mark.parametrize("raw, spelled", [
    ("G", "G Major"), (" D", "D Major"), ("Gm", "G Minor"), ("Ador", "A Dorian"), ("ADor", "A Dorian"),
    ("Amix", "A Mixolydian"), ("E dorian", "E Dorian"), ("F#m", "F# Minor"), ("Bb", "Bb Major"),
    ("A Minor", "A Minor"), ("D Major", "D Major"), ("G clef=treble", "G Major"), ("Eaeolian", "E Minor"),
])
def test_keys_are_spelled_as_irish_abc_does(raw, spelled):
    assert spell_key(raw) == spelled


@pytest.mark.parametrize("raw", ["HP", "none", "D ^f _b"])
def test_keys_irish_abc_lacks_are_dropped(raw):
    with pytest.raises(Dropped):
        spell_key(raw)


def test_lengths_read_and_written_as_irish_abc_does():
    assert [parse_length(t) for t in ["", "3", "/", "//", "/2", "3/2", "3/", "1/4"]] == [
        1, 3, Fraction(1, 2), Fraction(1, 4), Fraction(1, 2), Fraction(3, 2), Fraction(3, 2), Fraction(1, 4)]
    assert [write_length(Fraction(x)) for x in ["1", "3", "1/2", "3/2", "1/4"]] == ["", "3", "/", "3/", "/4"]


def test_unit_kept_where_eighths_would_need_quarters():
    halved = normalise("X:1\nT:t\nM:2/4\nL:1/16\nK:D\nA B c2 d4 e6|").text
    assert "L:1/8" in halved and "A/ B/ c d2 e3|!" in halved
    # A 1/32 note would become a quarter of an eighth: irish.abc writes no such length.
    tune = normalise("X:1\nT:t\nM:2/4\nL:1/16\nK:D\nA/ B/ c2 d4 e7|").text
    assert "L:1/16" in tune and "A/ B/ c2 d4 e7|!" in tune
    doubled = normalise("X:1\nT:t\nM:2/4\nL:1/4\nK:D\nA/B/ c d|[DF]2|").text
    assert "L:1/8" in doubled and "AB c2 d2|[D2F2]4|!" in doubled


@pytest.mark.parametrize("raw, reason", [
    ("X:1\nT:t\nM:2/4\nL:1/8\nV:1\nK:D\nAB|", "several voices"),
    ("X:1\nT:t\nM:2/4\nL:1/8", "no K: line"),
    ("X:1\nT:t\nM:2/4\nL:1/8\nAB|", "music before the K: line"),
    ("X:1\nT:t\nM:2/4\nL:1/8\nK:D\nAB|\nK:G\nAB|", "a field (key, meter or length change) in the body"),
    ("X:1\nT:t\nM:2/4\nL:1/8\nK:D\nAB|[M:3/4]ABc|", "a field (key, meter or length change) in the body"),
])
def test_tunes_the_dialect_cannot_hold_are_dropped_with_the_reason(raw, reason):
    with pytest.raises(Dropped, match=reason.replace("(", r"\(").replace(")", r"\)")):
        normalise(raw)
