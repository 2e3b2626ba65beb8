"""musictui: teach an LSTM to write Irish folk tunes, watch it learn, hear what it writes."""

__version__ = "0.1.0"
