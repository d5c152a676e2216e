"""reportbot's front ends: the Telegram bot, the terminal chat and the command line.

`bot` depends on `index`; `index` never imports `bot` or `telegram`.
"""
