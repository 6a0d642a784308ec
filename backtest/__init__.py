"""The deterministic backtester: the live strategy cores driven by an event clock.

No actors, no threads, no wall clock. ``backtest.engine`` steps the simulated exchange
and replays book pushes, trades and the order/ack wire in time order through the very
cores the live actors wrap (``backtest.desk``); ``backtest.report`` turns what was
recorded into PnL attribution and execution metrics; ``backtest.as_paper`` reproduces
the Avellaneda–Stoikov paper's own simulation; ``backtest.sweep`` runs parameter grids
on all cores; ``makerhive.backtest_cli`` is the ``makerhive backtest`` command.
"""
