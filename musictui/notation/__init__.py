"""How musictui reads ABC notation, in one folder.

  tunes.py         where tunes start and end: split, extract, count, pick, title (once)
  note_lengths.py  how long a note, chord, tuplet or broken pair lasts, in ticks
  durations.py     the streaming tracker: meter, unit, how full the bar is, every bar line
  replay.py        abc2midi's bar check replayed through repeats and endings
  form.py          the form figures of a finished tune (parts, bars, tonic ending)
  constraints/     what the sampler may write next: header, meter, form, composed in one place
No torch outside constraints/, no textual anywhere.
"""
