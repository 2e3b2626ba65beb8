import json
import math
import random
import statistics
import subprocess
import sys

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from musictui.checkpoint import load_checkpoint
from musictui.cli import main
from musictui.data import split_tunes
from musictui.errors import UserError
from musictui.evaluate import (COPY_LENGTH, checkpoint_corpus, evaluate, has_header_fields,
                               longest_shared_run, score_tunes, summarize, tune_logprobs)
from musictui.notation.form import form_of
from musictui.sample import SampleSettings

# 7 eighths in the second bar of 4/4: abc2midi reads it, but warns about that bar.
WRONG_BAR = "X:1\nT:Seven eighths\nM:4/4\nL:1/8\nK:D\nABcd efga|ABc efga|ABcd efga|]"
# No K: field: abc2midi refuses it, and the header is incomplete.
NO_KEY = "X:1\nT:Keyless\nM:4/4\nL:1/8\nABcd efga|ABcd efga|]"


@pytest.fixture(scope="module")
def model_and_vocab(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    return ckpt.build_model("cpu"), ckpt.vocab


@pytest.fixture(scope="module")
def good_tune(corpus):
    """A held-out tune that abc2midi passes, every bar included."""
    from musictui.audio import check_abc

    for tune in corpus.val_tunes:
        report = check_abc(tune)
        if report.ok and report.bars_ok:
            return tune
    raise AssertionError("no clean held-out tune")


def test_figures_of_generated_tunes_are_the_per_tune_facts(tiny_checkpoint, corpus, model_and_vocab):
    """Each share is its per-tune flag counted over the N tunes, and each flag is what abc2midi,
    the header rule, the form rule, the model and the corpus say of that tune, checked here again."""
    from musictui.audio import check_abc

    model, vocab = model_and_vocab
    r = evaluate(tiny_checkpoint, tunes=8, settings=SampleSettings(seed=3, max_length=1500, meter_aware=False),
                 corpus=corpus)
    assert (r.source, r.n, r.seed, r.temperature, r.meter_aware, r.form, r.step) == (
        "generated", 8, 3, 1.0, False, "plain", 300)
    assert r.complete + r.failed == 8 and len(r.tunes) == 8 and r.complete >= 4
    done = [s for s in r.tunes if s.text is not None]
    for s in done:
        report = check_abc(s.text)
        assert (s.parse_ok, s.bars_ok) == (report.ok, report.ok and report.bars_ok)
        assert s.headers_ok == has_header_fields(s.text)
        form = form_of(s.text)
        assert (s.ends_on_tonic, s.parts_ok, s.bars, s.parts) == (form.ends_on_tonic, form.parts_ok,
                                                                   form.bars, form.parts)
        total, count = tune_logprobs(model, vocab, [s.text])[0]
        assert s.logprob_per_char == pytest.approx(total / count, rel=1e-4)
        assert s.likely == (s.logprob_per_char >= r.likely_threshold)
        assert s.longest_shared == longest_shared_run(s.text, corpus.train_text)
    for name in ("parse_ok", "bars_ok", "headers_ok", "likely", "ends_on_tonic", "parts_ok"):
        assert getattr(r, name) == sum(getattr(s, name) for s in r.tunes) / 8, name
    assert r.copies == sum(s.copy for s in r.tunes) / 8
    assert r.median_bars == statistics.median(s.bars for s in done)
    assert r.median_parts == statistics.median(s.parts for s in done)
    assert r.median_chars == statistics.median(len(s.text) for s in done)
    assert r.logprob_per_char == pytest.approx(statistics.fmean(s.logprob_per_char for s in done))
    assert 0 < r.val_loss < math.log(len(corpus.vocab))  # a trained model beats guessing
    assert r.val_bpc == pytest.approx(r.val_loss / math.log(2))
    # the same seed gives the same tunes and figures
    again = evaluate(tiny_checkpoint, tunes=8, settings=SampleSettings(seed=3, max_length=1500, meter_aware=False),
                     corpus=corpus)
    assert [s.text for s in again.tunes] == [s.text for s in r.tunes]


def test_form_figures_of_a_two_part_tune_and_a_fragment(model_and_vocab, corpus):
    model, vocab = model_and_vocab
    two_parts = ("X:1\nT:Two parts\nM:4/4\nL:1/8\nK:D Dorian\nA|" + "dAFA dAFA|" * 7 + "dAFA d3:|\n"
                 + "f2|" + "afaf afaf|" * 7 + "afed d2:|")
    form, fragment = score_tunes([two_parts, WRONG_BAR], model, vocab, corpus.train_text, -9.0)
    assert (form.ends_on_tonic, form.parts_ok, form.bars, form.parts) == (True, True, 16, 2)
    assert (fragment.ends_on_tonic, fragment.parts_ok, fragment.bars, fragment.parts) == (False, False, 3, 1)
    both = summarize([form, fragment])
    assert (both["ends_on_tonic"], both["parts_ok"], both["median_bars"], both["median_parts"]) == (0.5, 0.5, 9.5, 1.5)


def test_human_baseline_scores_held_out_tunes(tiny_checkpoint, corpus):
    r = evaluate(tiny_checkpoint, tunes=10, human=True, corpus=corpus)
    assert r.source == "human" and r.n == 10 and r.failed == 0
    assert [s.text for s in r.tunes] == corpus.val_tunes[:10]
    assert r.headers_ok == 1 and r.copies == 0 and r.parse_ok >= 0.9


def test_shares_react_to_a_broken_tune(model_and_vocab, corpus, good_tune):
    model, vocab = model_and_vocab
    good, wrong_bar, no_key, failed = score_tunes([good_tune, WRONG_BAR, NO_KEY, None], model, vocab,
                                                  corpus.train_text, likely_threshold=-2.5)
    assert good.parse_ok and good.bars_ok and good.headers_ok and good.first_error is None
    assert wrong_bar.parse_ok and not wrong_bar.bars_ok and wrong_bar.headers_ok
    assert "bar 1" in wrong_bar.first_error
    assert not no_key.parse_ok and not no_key.bars_ok and not no_key.headers_ok
    assert failed.text is None and failed.logprob_per_char is None and not failed.parse_ok

    clean = summarize([good, good])
    assert (clean["parse_ok"], clean["bars_ok"], clean["headers_ok"]) == (1, 1, 1)
    assert summarize([good, wrong_bar])["bars_ok"] == 0.5
    assert summarize([good, wrong_bar])["parse_ok"] == 1
    mixed = summarize([good, wrong_bar, no_key, failed])
    assert (mixed["parse_ok"], mixed["bars_ok"], mixed["headers_ok"]) == (0.5, 0.25, 0.5)
    assert (mixed["complete"], mixed["failed"]) == (3, 1)


def test_model_rates_a_real_tune_above_noise(model_and_vocab, good_tune):
    model, vocab = model_and_vocab
    rng = random.Random(0)
    noise = "X:1\n" + "".join(rng.choice(vocab.chars) for _ in range(300))
    (real_total, real_n), (noise_total, noise_n) = tune_logprobs(model, vocab, [good_tune, noise])
    assert real_n == len(good_tune) + 1  # every character after the first, and the closing blank line
    assert real_total / real_n > noise_total / noise_n + 0.5


def test_batched_scoring_matches_one_tune_at_a_time(model_and_vocab, corpus):
    model, vocab = model_and_vocab
    tunes = corpus.val_tunes[:5]  # of different lengths: padding must not leak into the scores
    together = tune_logprobs(model, vocab, tunes)
    alone = [tune_logprobs(model, vocab, [t])[0] for t in tunes]
    for (a, n), (b, m) in zip(together, alone):
        assert n == m and a == pytest.approx(b, rel=1e-5)


def test_novelty_finds_a_verbatim_copy_and_not_noise(corpus):
    text = corpus.train_text
    copied = corpus.train_tunes[5]
    assert longest_shared_run(copied, text) == len(copied) >= COPY_LENGTH
    # a copy buried in new material is still found, at its own length
    assert longest_shared_run("zzzq" + copied[40:140] + "qzzz", text) >= 100
    rng = random.Random(1)
    noise = "".join(rng.choice("abcdefgABCDEFG|:2/") for _ in range(400))
    assert longest_shared_run(noise, text) < 12
    assert longest_shared_run("", text) == 0


@hsettings(max_examples=200, deadline=None)
@given(st.text("ab|", max_size=12), st.text("ab|", max_size=30))
def test_longest_shared_run_is_the_longest_common_substring(tune, text):
    brute = max((j - i for i in range(len(tune)) for j in range(i + 1, len(tune) + 1) if tune[i:j] in text),
                default=0)
    assert longest_shared_run(tune, text) == brute


def test_header_fields():
    assert has_header_fields("X:1\nT:a\nM:6/8\nL:1/8\nK:D\nabc|")
    assert not has_header_fields(NO_KEY)
    assert not has_header_fields("X:1\nT:a\nM:6/8\nK:D\nL:1/8\nabc|")  # L: after K: is in the body
    assert not has_header_fields("X:1\nM:6/8\nL:1/8\nK:D\nabc|")


def test_corpus_of_a_checkpoint_from_another_machine(corpus):
    moved = {"corpus": "/elsewhere/site-packages/mitdeeplearning/data/irish.abc"}
    assert checkpoint_corpus(moved).val_tunes == corpus.val_tunes
    with pytest.raises(UserError, match="--corpus"):
        checkpoint_corpus({"corpus": "/elsewhere/my-tunes.abc"})


def test_cli_json_table_and_out_dir(tiny_checkpoint, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--tunes", "4", "--seed", "2",
                 "--json", "--out-dir", str(tmp_path)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["n"] == 4 and figures["seed"] == 2 and figures["source"] == "generated"
    assert {"val_loss", "val_bpc", "parse_ok", "bars_ok", "headers_ok", "median_chars", "copies",
            "median_longest_shared", "logprob_per_char", "likely", "likely_threshold", "ends_on_tonic",
            "parts_ok", "median_bars", "median_parts", "form"} <= figures.keys()
    assert figures["form"] == "2x8"
    saved = (tmp_path / "tunes.abc").read_text()
    assert len(split_tunes(saved)) == figures["complete"] and saved.count("% tune ") == 4

    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--human", "--tunes", "3"]) == 0
    table = capsys.readouterr().out
    assert "3 held-out human tunes" in table and "parse clean" in table and "likely" in table
    assert "ends on the tonic" in table and "parts of 4/8/16 bars" in table


@pytest.mark.parametrize("argv, message", [
    (["--checkpoint", "/nonexistent/ckpt.safetensors"], "checkpoint not found"),
    (["--corpus", "/nonexistent/tunes.abc"], "corpus not found"),
])
def test_bad_input_is_one_line(tiny_checkpoint, capsys, argv, message):
    if "--checkpoint" not in argv:
        argv = ["--checkpoint", str(tiny_checkpoint), *argv]
    try:
        code = main(["evaluate", "--tunes", "2", *argv])
    except SystemExit as exit:   # argparse refused it (the command line's limits): status 2
        code = exit.code
    assert code in (1, 2)
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_temperature_out_of_range_is_a_usage_error(tiny_checkpoint, capsys):
    with pytest.raises(SystemExit) as stop:  # argparse's own status for a bad option: 2
        main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--temperature", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--temperature: must be between 0.01 and 10, not 0" in err and err.count("\n") == 1


def test_not_a_checkpoint_and_no_tunes(tmp_path, tiny_checkpoint, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(junk)]) == 1
    assert "not a readable checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--tunes", "0"])
    with pytest.raises(UserError):
        evaluate(tiny_checkpoint, tunes=0)


def test_evaluate_never_imports_textual():
    code = "import musictui.evaluate, musictui.commands.evaluate, sys; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
