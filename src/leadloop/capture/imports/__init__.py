"""CSV imports: the mapping (TOML), the streaming reader and the row validation.

The runner that writes leads, stage histories and the job's progress is a ``loop`` use case
(``leadloop.loop.imports``); this package only turns bytes into checked rows.
"""
