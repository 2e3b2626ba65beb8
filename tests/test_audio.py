"""musictui.audio against the real abc2midi and timidity: durations, loudness, the report, failures."""
from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from musictui import audio
from musictui.data import default_corpus_path, split_tunes
from musictui.errors import UserError

# Eight bars of 6/8 in eighth notes, no repeats: 8 bars x 3 quarter notes = 24 beats. abc2midi
# ends its track a few ticks after the last note (measured 0.2%): durations are within 1%.
JIG = "X:1\nT:Eight bars\nM:6/8\nL:1/8\nK:D\n" + "ABc def|fed cBA|" * 4 + "\n"
JIG_BEATS = 24

# Line 6 has a short bar; line 7 closes a chord that was never opened (abc2midi: an error).
BROKEN = "X:1\nT:broken\nM:4/4\nL:1/8\nK:G\nABcd efga|ABc|\nAB(c d]e zz|\n"


def wav_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.astype(np.float64) / 32768, wav.getframerate()


@pytest.fixture(scope="module")
def corpus_render(tmp_path_factory):
    """The corpus's first tune, "Alexander's", rendered once at 200 BPM (faster to synthesize)."""
    tune = split_tunes(default_corpus_path().read_text(encoding="utf-8"))[0]
    assert "T:Alexander's" in tune
    folder = tmp_path_factory.mktemp("render")
    return audio.render(tune, folder / "alexander.wav", folder / "alexander.mid", tempo=200)


def test_corpus_tune_lasts_what_its_bars_meter_and_tempo_imply(corpus_render):
    # Alexander's: two 8-bar parts, each played twice, in M:C| (four quarter notes a bar); its
    # one-beat pickup is given back by the short last bar of each part. So 32 bars x 4 beats at
    # 200 beats a minute = 38.4 s.
    expected = 32 * 4 * 60 / 200
    # The MIDI: within half a beat (0.15 s). The WAV: timidity lets the last notes ring out, up to
    # 3 s (measured: 2.0 s), and never cuts the music short.
    assert corpus_render.report.duration_s == pytest.approx(expected, abs=0.15)
    assert expected <= corpus_render.duration_s <= expected + 3
    samples, rate = wav_samples(corpus_render.wav_path)
    stereo_frames = len(samples) / 2
    assert stereo_frames / rate == pytest.approx(corpus_render.duration_s)
    assert corpus_render.report.ok and corpus_render.report.bars_ok
    assert corpus_render.report.notes > 200  # 262: every note of both parts, played twice


def test_corpus_tune_is_not_silent(corpus_render):
    samples, _ = wav_samples(corpus_render.wav_path)
    rms = float(np.sqrt(np.mean(samples**2)))
    # Measured 0.064 (sox stat agrees). 0.01 is -40 dBFS: quiet, but clearly music, not silence.
    assert rms > 0.01
    assert np.max(np.abs(samples)) < 0.99  # and the volume boost does not clip


def test_midi_is_kept_when_asked(corpus_render):
    assert corpus_render.midi_path.read_bytes()[:4] == b"MThd"


def test_tempo_supplies_or_overrides_q():
    assert audio.check_abc(JIG).duration_s == pytest.approx(JIG_BEATS * 60 / 120, rel=0.01)
    with_q = JIG.replace("K:D", "Q:1/4=90\nK:D")
    assert audio.check_abc(with_q).duration_s == pytest.approx(JIG_BEATS * 60 / 90, rel=0.01)
    overridden = audio.with_tempo(with_q, 60)
    assert "Q:1/4=60" in overridden and "90" not in overridden
    assert audio.check_abc(overridden).duration_s == pytest.approx(JIG_BEATS * 60 / 60, rel=0.01)
    # An inline [Q:] in the body is overridden too, and lines keep their numbers.
    inline = audio.with_tempo(JIG.replace("|fed", "|[Q:1/4=200]fed", 1), 60)
    assert "[Q:1/4=60]" in inline and inline.count("\n") == JIG.count("\n")
    assert audio.with_tempo(JIG, 60) == JIG  # no Q: at all: render passes -Q to abc2midi


@pytest.mark.parametrize("q", ["", "Q:1/4=90\n"])
def test_render_tempo_applies_from_the_first_bar(tmp_path, q):
    # With an inline [Q:] after the first bar, and with or without a Q: line in the header.
    tune = JIG.replace("K:D", q + "K:D").replace("|fed", "|[Q:1/4=200]fed", 1)
    rendered = audio.render(tune, tmp_path / "jig.wav", tempo=180)
    assert rendered.report.duration_s == pytest.approx(JIG_BEATS * 60 / 180, rel=0.01)
    assert rendered.report.duration_s <= rendered.duration_s <= rendered.report.duration_s + 3


@pytest.mark.parametrize("tempo", [23, 205, 0, -120])
def test_tempo_out_of_range_is_a_user_error(tempo):
    with pytest.raises(UserError, match="24 to 204"):
        audio.render(JIG, tempo=tempo)


def test_broken_abc_report_holds_the_error_with_its_line():
    report = audio.check_abc(BROKEN)
    assert not report.ok
    assert audio.AbcError(line=7, char=6, message="Chord already finished") in report.errors
    assert not report.bars_ok
    short_bar = report.bar_warnings[0]
    assert (short_bar.bar, short_bar.units, short_bar.expected, short_bar.line) == (1, 1.5, 4.0, 6)
    assert "first at line 7, char 6: Chord already finished" in report.summary()


def test_text_that_is_no_tune_is_a_report_not_a_crash(tmp_path):
    report = audio.check_abc("hello\n")
    assert not report.ok and report.notes == 0 and "No tune processed" in report.errors[0].message
    with pytest.raises(audio.RenderError, match="could not make MIDI.*No tune processed") as caught:
        audio.render("hello\n", tmp_path / "x.wav")
    assert caught.value.report == report
    assert not (tmp_path / "x.wav").exists()


def test_clean_tune_summary():
    report = audio.check_abc(JIG)
    assert report.ok and report.bars_ok and report.warnings == []
    assert report.notes == 48
    assert report.summary() == "48 notes, 12.0 s, no problems"


def test_parse_abc2midi_output():
    stdout = (
        "4.84 January 20 2023 abc2midi\n"
        "Warning in line-char 11-43 : Assuming repeat\n"
        "Error in line-char 7-6 : Chord already finished\n"
        "Error in line-char 17-48 : found [1 or like before |:\n"
        "writing MIDI file tune.mid\n"
        "Warning in line-char 6-14 : Track 0 Bar 1 has 5 time units while the time signature has 6\n"
        "Warning in line-char 6-16 : Track 2 Bar 3 has 5/4 time units while the time signature has 2\n"
        "Warning in line-char 9-12 : Track 2 is 9.5 quarter notes long not 12.0\n"
    )
    report = audio.parse_abc2midi_output(stdout)
    assert report.errors == [audio.AbcError(7, 6, "Chord already finished")]
    assert report.bar_warnings == [audio.BarWarning(1, 5.0, 6.0, track=0, line=6, char=14),
                                   audio.BarWarning(3, 1.25, 2.0, track=2, line=6, char=16)]
    assert report.warnings == ["line 17, char 48: found [1 or like before |:",
                               "line 9, char 12: Track 2 is 9.5 quarter notes long not 12.0"]


def test_timidity_on_a_file_that_is_not_midi_says_so(tmp_path):
    not_midi = tmp_path / "tune.mid"
    not_midi.write_text(JIG)
    with pytest.raises(audio.RenderError, match="timidity made no sound.*Not a MIDI file"):
        audio.midi_to_wav(not_midi, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_timeouts_become_one_clear_error(tmp_path, corpus_render):
    # 20,000 bars: abc2midi needs tens of milliseconds for it, far past a 1 ms limit.
    huge = "X:1\nT:huge\nM:4/4\nL:1/8\nK:G\n" + "ABcd efga|\n" * 20000
    with pytest.raises(audio.RenderError, match="abc2midi took longer than 0.001 s"):
        audio.check_abc(huge, timeout=0.001)
    # timidity spends longer than 50 ms just loading the SoundFont.
    with pytest.raises(audio.RenderError, match="timidity took longer than 0.05 s"):
        audio.midi_to_wav(corpus_render.midi_path, tmp_path / "out.wav", timeout=0.05)


def test_missing_tools_name_their_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tools at all
    with pytest.raises(audio.MissingTool, match="abc2midi is not installed.*apt install abcmidi"):
        audio.check_abc(JIG)
    # abc2midi there, timidity not: the MIDI is made, then the WAV names its package.
    os.symlink("/usr/bin/abc2midi", tmp_path / "abc2midi")
    assert audio.check_abc(JIG).ok
    with pytest.raises(audio.MissingTool, match="timidity is not installed.*apt install timidity"):
        audio.render(JIG, tmp_path / "jig.wav")


@pytest.mark.parametrize("name", ["with space 'and' \"quotes\".wav", "-o evil.wav", "trailing.wav|",
                                  "|touch injected"])
def test_awkward_output_names_neither_break_nor_inject(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    rendered = audio.render(JIG, tmp_path / name, tmp_path / f"{name}.mid", tempo=204)
    assert rendered.wav_path == tmp_path / name and wav_samples(rendered.wav_path)[0].size > 0
    assert (tmp_path / f"{name}.mid").read_bytes()[:4] == b"MThd"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, f"{name}.mid"])


def test_render_without_a_path_reuses_one_cached_wav():
    first = audio.render(JIG, tempo=204)
    second = audio.render(JIG, tempo=204)
    assert first.wav_path == second.wav_path and first.wav_path.exists()
    assert first.midi_path is None


def test_pick_tune_counts_tunes_by_position():
    text = f"% a collection\n\n{JIG}\n{JIG.replace('Eight bars', 'Second')}"
    picked = audio.pick_tune(text, 2)
    assert (picked.number, picked.count, picked.title) == (2, 2, "Second")
    assert text.splitlines()[picked.first_line - 1] == "X:1"
    with pytest.raises(UserError, match="there is no tune 3: the file holds 2 tunes"):
        audio.pick_tune(text, 3)
    with pytest.raises(UserError, match="no tune found"):
        audio.pick_tune("just words\n", 1)


def test_corpus_tunes_pass_the_check():
    # Measured over all 804: 802 without errors (two have guitar chords abc2midi cannot read),
    # 763 with every bar the right length, 8 ms a tune.
    tunes = split_tunes(default_corpus_path().read_text(encoding="utf-8"))[:50]
    reports = [audio.check_abc(tune) for tune in tunes]
    assert all(report.ok for report in reports)
    assert sum(report.bars_ok for report in reports) >= 40
