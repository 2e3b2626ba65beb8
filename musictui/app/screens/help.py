"""The help screen (`?`): what each key does, over whichever screen was showing."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# musictui

A character-level LSTM learns Irish folk tunes in ABC notation; you watch it learn, then it writes
tunes and plays them.

| Key | Does |
|-----|------|
| `t` | the **train** screen: loss curves, progress, a sample at each evaluation |
| `g` | the **generate** screen: stream a tune, render it, play it |
| `b` | the **tune book**: every tune made here, kept; `/` searches titles, `*` stars, `f` shows only the starred, `r` or enter replays, `w` saves |
| `space` | start, pause or resume training (it goes on while you generate) |
| `c` | save a checkpoint now (train screen) |
| `n` | a new tune, with the settings and header on the left |
| `m` | meter-aware sampling on or off: on, every bar is the length its meter asks (generate screen) |
| `r` | replay the current tune |
| `s` | stop the sound |
| `v` | the current tune's **score**, drawn by abcm2ps (a picture in kitty or sixel terminals, half cells elsewhere); `escape` goes back |
| `w` | save the current tune as ABC, MIDI, WAV and its score as SVG (generate and tune-book screens) |
| `escape` | leave a text field, so letters are commands again |
| `ctrl+p` | the command palette |
| `?` | this help |
| `q`, `ctrl+q` | quit (saves a checkpoint first if training ran) |

**Checkpoint.** The generate screen samples from the newest checkpoint of your run, from the
training weights as they are now (a copy: training is not disturbed), or from the shipped model.

**No sound card?** The tune is still rendered; a message says where its WAV is.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,question_mark", "dismiss", "Close help"),
        # A modal screen hides the app's own bindings: these keys still do what they say.
        Binding("t", "app.show('train')", "Train"),
        Binding("g", "app.show('generate')", "Generate"),
        Binding("b", "app.show('book')", "Tune book"),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
        yield Footer()
