"""The tune-book screen (b): tunes made in the app are kept; search, star, filter, replay, save."""
from __future__ import annotations

import pytest

from musictui.app.app import make_app
from musictui.tunebook import TuneBook
from tests.test_app import SIZE, null_sound, open_generate, run_async, run_dir, wait_for  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _own_tune_book(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@run_async
async def test_tunes_made_in_the_app_are_kept_and_the_book_screen_finds_stars_plays_and_saves_them(
        run_dir, tmp_path, null_sound):
    book_file = tmp_path / "book.db"
    app = make_app(checkpoint_dir=run_dir, preset="tiny", tunes_dir=tmp_path / "tunes", tunebook=book_file)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_generate(pilot, app)
        screen.query_one("#seed").value = "3"
        screen.query_one("#title").value = "Snowy Reel"
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 1)
        screen.query_one("#title").value = "Green Jig"
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.tunes) == 2)
        await wait_for(pilot, lambda: book_file.exists() and TuneBook(book_file).count() == 2, what="both kept")
        kept = TuneBook(book_file).list()
        assert [t.abc for t in reversed(kept)] == [t.text for t in screen.tunes]
        assert kept[-1].seed == 3 and kept[-1].settings["seed"] == 3 and str(run_dir) in kept[-1].checkpoint

        await pilot.press("b")
        book = app.book_screen
        await wait_for(pilot, lambda: app.screen is book and len(book.tunes) == 2, what="the book's list")
        assert "Green Jig" in str(book.query_one("#book-abc").render())  # the newest, highlighted

        book.query_one("#book-search").value = "snowy"
        await wait_for(pilot, lambda: [t.title for t in book.tunes] == ["Snowy Reel"], what="the search")
        book.query_one("#book-list").focus()
        await pilot.press("asterisk")
        await wait_for(pilot, lambda: book.tunes and book.tunes[0].star, what="the star")
        book.query_one("#book-search").value = ""
        await wait_for(pilot, lambda: len(book.tunes) == 2)
        await pilot.press("f")
        await wait_for(pilot, lambda: [t.title for t in book.tunes] == ["Snowy Reel"], what="starred only")

        before = app._playback
        await pilot.press("r")  # the book's tune, played for real into ALSA's null device
        await wait_for(pilot, lambda: app._playback not in (None, before), what="the replay")
        assert app._playback.wav_path.exists() and app._playback.duration_s > 0
        await pilot.press("w")
        stem = f"book-{book.tunes[0].id:04d}-snowy-reel"
        await wait_for(pilot, lambda: len(list((tmp_path / "tunes").glob(stem + ".*"))) == 4, what="saved files")
        assert (tmp_path / "tunes" / f"{stem}.abc").read_text().rstrip() == book.tunes[0].abc.rstrip()
        await pilot.press("g")
        await wait_for(pilot, lambda: app.screen is app.generate_screen)


@run_async
async def test_a_damaged_tune_is_named_on_the_book_screen_and_the_rest_are_listed(run_dir, tmp_path):
    import sqlite3

    book_file = tmp_path / "book.db"
    book = TuneBook(book_file)
    broken = book.add("X:1\nT:Broken\nK:C\nCDEF|\n", "ckpt")
    book.add("X:1\nT:Whole\nK:C\nGABc|\n", "ckpt")
    with sqlite3.connect(book_file) as db:
        db.execute("UPDATE tunes SET settings = 'not json{' WHERE id = ?", (broken,))
    app = make_app(checkpoint_dir=run_dir, preset="tiny", tunebook=book_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        screen = app.book_screen
        await wait_for(pilot, lambda: app.screen is screen and len(screen.tunes) == 1, what="the book's list")
        assert screen.tunes[0].title == "Whole"
        assert f"Left out, damaged: tune {broken}" in str(screen.query_one("#book-status").render())
        await pilot.press("q")
