"""Shim of ``prefect.concurrency``: global concurrency limits held through flowdeck.

Use ``prefect.concurrency.sync`` or ``prefect.concurrency.asyncio``.
"""
