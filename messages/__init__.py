"""The vocabulary: every msgspec Struct that crosses an actor or thread boundary.

All messages are frozen (immutable, so pykka may pass them by reference between
threads) and hold tuples, never lists. Grouped by concern:

- ``messages.market``  market data in, market state out of the book actor
- ``messages.orders``  quotes, order commands, venue acks/rejects/fills
- ``messages.risk``    risk state, allocations, reconciliation results
- ``messages.control`` supervision, timers, events and status for the view
"""
