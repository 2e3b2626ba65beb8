"""The smallest terminal the screens are drawn in; below it each screen shows TOO_SMALL instead.

At 40×10 the panes were squashed past reading (issue 12). The app sets Textual's breakpoints from
these numbers, and app.tcss hides everything but the `.too-small` line on a -narrow or -short screen.
"""
MIN_WIDTH, MIN_HEIGHT = 60, 16
TOO_SMALL = (f"musictui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}: make this one bigger. "
             "q still quits (saving first).")
