"""The Textual app. `make_app(...)` builds it; `musictui` (the `app` command) runs it.

Only this package imports textual: the core (data, model, train, sample, audio) stays free of it.
"""
