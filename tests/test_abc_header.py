"""The header half of meter-aware sampling (musictui/notation/constraints/header.py)."""
from musictui.notation.constraints import AllOf, HeaderConstraint
from musictui.data import split_tunes

VOCAB = sorted(set("\n !\"#'(),-./0123456789:<=>ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz|"))


def allowed(constraint, text):
    for ch in text:
        constraint.feed(ch)
    mask = constraint.allowed_mask()
    return None if mask is None else {c for c, ok in zip(VOCAB, mask.tolist()) if ok}


def test_a_header_line_must_start_as_a_field_and_key_waits_for_meter_and_unit():
    c = HeaderConstraint(VOCAB)
    assert allowed(c, "X:1\n") == set("ABCDEFGHILMNOPQRSTUVWZ")  # no K yet, no music
    assert allowed(c, "T") == {":"}
    assert allowed(c, ":Tune name with D2 in it") is None  # free inside a line
    assert "K" not in allowed(c, "\nM:6/8\n")
    assert "K" in allowed(c, "L:1/8\n")
    assert allowed(c, "K:D Major\n") is None  # the body is the meter constraint's business
    assert allowed(c, "\n\nX:2\n") == set("ABCDEFGHILMNOPQRSTUVWZ")  # a new tune, a new header


def test_every_corpus_tune_with_meter_and_unit_passes_the_header_rule(corpus):
    refused = 0
    for tune in corpus.tunes:
        header = tune.split("\nK:")[0] + "\nK:"
        c = HeaderConstraint(VOCAB)
        ok = True
        for ch in "\n" + header:
            mask = c.allowed_mask()
            if mask is not None and not mask[VOCAB.index(ch)]:
                ok = False
                break
            c.feed(ch)
        refused += not ok
    assert refused <= len(corpus.tunes) * 0.02, refused


