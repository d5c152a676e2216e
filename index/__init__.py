"""Search core of reportbot: ingestion, normalisation, tokenization, storage and ranking.

Nothing here imports Telegram or the `bot` package.
"""
