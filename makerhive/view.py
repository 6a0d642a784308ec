"""The live terminal view: one pure function from a ``ViewSnapshot`` to a rich renderable.

``render`` does no I/O and builds fresh renderables on every call, so rich's refresh thread
never draws something another thread mutates. It runs in the view child process (see
``makerhive.view_process``): a frame costs milliseconds of GIL, which the trading process must
not pay. Every string that comes from the hive (asset names, event texts, halt reasons) is put
into ``Text`` objects, never parsed as console markup.
"""
from __future__ import annotations

import math

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from messages.snapshot import AssetRow, ViewSnapshot

EVENT_LINES = 12

PHASE_STYLE = {
    "quoting": "green",
    "reconciling": "yellow",
    "starting": "yellow",
    "restarting": "yellow",
    "halted": "bold red",
    "failed": "bold red",
    "quarantined": "bold magenta",
    "stalled": "yellow",
    "stopped": "dim",
    "standby": "dim",
}
EVENT_STYLE = {
    "quarantine": "bold magenta",
    "stall": "yellow",
    "fenced": "magenta",
    "failure": "red",
    "halt": "red",
    "gave_up": "bold red",
    "restart": "yellow",
    "escalation": "yellow",
    "info": "dim",
    "allocation": "cyan",
    "exposure": "yellow",
    "guard": "yellow",  # a toxicity guard, breaker or missing edge (the quoter's ladder note)
}


# -- formatting ------------------------------------------------------------------------------
def fmt_sig(x: float, sig: int = 5) -> str:
    """``x`` with about ``sig`` significant figures, never in exponent notation.

    67234.5 -> "67,235", 3456.78 -> "3,456.8", 150.234 -> "150.23", 0.51234 -> "0.51234".
    """
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    digits = math.floor(math.log10(abs(x))) + 1  # digits before the decimal point
    decimals = min(max(sig - digits, 0), 8)
    return f"{x:,.{decimals}f}"


def fmt_price(x: float, *, blank_zero: bool = False) -> str:
    if x == 0:
        return "" if blank_zero else "-"
    return fmt_sig(x)


def fmt_qty(x: float) -> str:
    """A signed quantity, 5 significant figures, no trailing zeros: +0.0123, -1,234.5."""
    s = fmt_sig(x)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if x <= 0 or not math.isfinite(x) else "+" + s


def fmt_usd(x: float, decimals: int = 2, *, sign: bool = False) -> str:
    if not math.isfinite(x):
        return str(x)
    s = f"{abs(x):,.{decimals}f}"
    if x < 0 and s.strip("0.,") == "":
        x = 0.0  # "-0.00" reads like a loss
    if x < 0:
        return f"-${s}"
    return f"+${s}" if sign else f"${s}"


def fmt_hms(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


def pnl_text(x: float, decimals: int = 2) -> Text:
    s = fmt_usd(x, decimals, sign=True)
    style = "green" if s.startswith("+") and s.strip("+$0.,") else "red" if s.startswith("-") else ""
    return Text(s, style=style)


def _pct_style(pct: float) -> str:
    return "bold red" if pct >= 100 else "yellow" if pct >= 80 else ""


# -- parts -----------------------------------------------------------------------------------
def _header(snap: ViewSnapshot) -> Text:
    t = Text()
    t.append("makerhive", style="bold cyan")
    t.append("  venue ")
    t.append(snap.venue or "?", style="bold")
    t.append(f"  x{snap.speed:g}", style="bold")
    t.append("  sim ")
    t.append(fmt_hms(snap.sim_time_s), style="bold")
    t.append("  wall ")
    t.append(fmt_hms(snap.wall_time_s), style="bold")
    t.append("  PnL ")
    t.append_text(pnl_text(snap.portfolio_pnl))
    t.append("  capital ")
    t.append(fmt_usd(snap.capital, 0), style="bold")
    vs = snap.venue_status
    if vs:
        ip_used, ip_cap = int(vs.get("ip_weight_used", 0)), int(vs.get("ip_weight_cap", 1200))
        left, cap = int(vs.get("address_left", 0)), int(vs.get("address_cap", 0))
        t.append(f"\n{vs.get('network', '')}", style="bold magenta")
        t.append("  IP weight ")
        t.append(f"{ip_used}/{ip_cap}/min", style=_pct_style(100 * ip_used / max(1, ip_cap)))
        t.append("  address actions left ")
        t.append(f"{left:,}/{cap:,}", style=_pct_style(100 - 100 * left / max(1, cap)))
        t.append(f"  reconnects {int(vs.get('reconnects', 0))}")
        dms_at = float(vs.get("dms_at", 0.0) or 0.0)
        if dms_at:
            t.append(f"  dead-man's switch in {max(0.0, dms_at - float(vs.get('now', dms_at))):.0f}s")
    return t


def _state(row: AssetRow) -> Text:
    t = Text(row.phase, style=PHASE_STYLE.get(row.phase, ""))
    if row.halt_reason:
        t.append(f" ({row.halt_reason})", style="red")
    return t


FULL_HEADERS = ("mid", "spr bp", "our bid", "our ask", "inventory", "inv $", "% lim",
                "realized", "unrealized", "fees", "fills b/s", "rst")
SHORT_HEADERS = ("mid", "bp", "bid", "ask", "inv", "inv $", "%lim",
                 "real", "unreal", "fees", "b/s", "rst")


def _assets_table(snap: ViewSnapshot, *, compact: bool = False) -> Table:
    t = Table(box=None, header_style="bold", pad_edge=False,
              padding=(0, 1, 0, 0) if compact else (0, 1))
    t.add_column("asset", no_wrap=True)
    t.add_column("state", no_wrap=True, overflow="ellipsis", max_width=14 if compact else 32)
    t.add_column("regime", no_wrap=True, overflow="ellipsis", max_width=8 if compact else None)
    for name in SHORT_HEADERS if compact else FULL_HEADERS:
        t.add_column(name, justify="right", no_wrap=True)
    for r in snap.assets:
        t.add_row(
            Text(r.asset, style="bold"),
            _state(r),
            Text(r.regime),
            fmt_price(r.mid),
            f"{r.spread_bp:.1f}" if r.spread_bp else "",
            fmt_price(r.our_bid, blank_zero=True),
            fmt_price(r.our_ask, blank_zero=True),
            fmt_qty(r.inventory),
            fmt_usd(r.inventory_usd, 0, sign=True) if r.inventory_usd else "$0",
            Text(f"{r.inventory_pct:.0f}%", style=_pct_style(r.inventory_pct)),
            pnl_text(r.realized_pnl),
            pnl_text(r.unrealized_pnl),
            fmt_usd(r.fees),
            f"{r.fills_buy}/{r.fills_sell}",
            Text(str(r.restarts), style="yellow" if r.restarts else ""),
        )
    if not snap.assets:
        t.add_row(Text("no assets", style="dim"))
    return t


class _Assets:
    """The assets table, in full or compact form depending on the width it is given."""

    def __init__(self, snap: ViewSnapshot) -> None:
        self.snap = snap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        full = _assets_table(self.snap)
        # the panel's border and padding take 4 cells
        if Measurement.get(console, options, full).maximum + 4 <= options.max_width:
            yield Panel(full, title="assets", title_align="left")
        else:
            yield Text("assets", style="bold")
            yield _assets_table(self.snap, compact=True)


ZONE_STYLE = {"reward": "green", "hold": "", "punish": "yellow", "pause": "bold red"}


def _capital_panel(snap: ViewSnapshot) -> Panel:
    """The supervisor's allocation: per asset its capital (and its last move), score and
    parts (sharpe / return / drawdown / consistency, each 0..1), zone, risk multipliers
    (size, spread, max position) and compound flag; under it the portfolio's exposure
    against its cap and its drawdown against its stop. Before the supervisor has published
    anything: the capital per asset alone."""
    t = Table.grid(padding=(0, 1))
    t.add_column()
    t.add_column(justify="right")
    t.add_column(justify="right")
    alloc = {r.asset: r for r in snap.allocation}
    if alloc:
        t.add_column(justify="right")  # change
        t.add_column(justify="right")  # score
        t.add_column(justify="right")  # parts
        t.add_column()  # zone
        t.add_column(justify="right")  # multipliers
        t.add_column()  # compound
        t.add_row(*(Text(h, style="dim") for h in ("", "capital", "share", "move", "score", "s/r/d/c",
                                                     "zone", "size spr pos", "")))
    allocated = 0.0
    for r in snap.assets:
        a = alloc.get(r.asset)
        capital = a.capital if a is not None else r.capital
        allocated += capital
        share = capital / snap.capital * 100 if snap.capital else 0.0
        cells: list = [Text(r.asset, style=PHASE_STYLE.get(r.phase, "")), fmt_usd(capital, 0), f"{share:.0f}%"]
        if alloc:
            if a is None:
                cells += [""] * 6
            else:
                move = Text(fmt_usd(a.change, 0, sign=True) if a.change else "",
                            style="green" if a.change > 0 else "red" if a.change < 0 else "")
                score = f"{a.score:.2f}" if a.score is not None else "-"
                parts = (f"{a.sharpe:.2f}/{a.ret:.2f}/{a.drawdown:.2f}/{a.consistency:.2f}"
                         if a.score is not None else "")
                zone = Text(a.zone if a.state == "active" else a.state,
                            style=ZONE_STYLE.get(a.zone, "") if a.state == "active" else "magenta")
                mults = f"x{a.size_mult:.2f} x{a.spread_mult:.2f} x{a.max_position_mult:.2f}"
                cells += [move, score, parts, zone, mults, Text("compound" if a.compound else "", style="cyan")]
        t.add_row(*cells)
    share = allocated / snap.capital * 100 if snap.capital else 0.0
    t.add_row(Text("total", style="bold"), Text(fmt_usd(allocated, 0), style="bold"),
              Text(f"{share:.0f}%", style="bold"))
    parts: list[RenderableType] = [t]
    p = snap.portfolio
    if p is not None:
        exp_pct = p.exposure_usd / p.exposure_cap_usd * 100 if p.exposure_cap_usd else 0.0
        dd_pct = p.drawdown / p.drawdown_stop * 100 if p.drawdown_stop else 0.0
        line = Text("exposure ")
        line.append(f"{fmt_usd(p.exposure_usd, 0)} / cap {fmt_usd(p.exposure_cap_usd, 0)}", style=_pct_style(exp_pct))
        line.append("  drawdown ")
        line.append(f"{p.drawdown:.2%} / stop {p.drawdown_stop:.2%}", style=_pct_style(dd_pct))
        parts.append(line)
        if p.halted:
            parts.append(Text(f"HALTED: {p.halt_reason}", style="bold white on red"))
    return Panel(Group(*parts), title="supervisor: capital & allocation", title_align="left")


def _event_panel(snap: ViewSnapshot) -> Panel:
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
    events = snap.events[-EVENT_LINES:]
    for e in events:
        style = EVENT_STYLE.get(e.kind, "")
        t.add_row(Text(fmt_hms(e.ts), style="dim"), Text(e.kind, style=style), Text(e.asset),
                  Text(e.text, style=style))
    if not events:
        t.add_row(Text("no events yet", style="dim"))
    return Panel(t, title="events", title_align="left")


def render(snap: ViewSnapshot) -> RenderableType:
    """The whole frame for ``snap``. Pure: no I/O, no shared state."""
    parts: list[RenderableType] = [_header(snap)]
    if snap.stopping:
        parts.append(Text("stopping: cancelling every order…", style="bold white on red"))
    parts.append(_Assets(snap))
    parts.append(_Bottom(snap))
    return Group(*parts)


class _Bottom:
    """The allocation and the events side by side, or one above the other when the
    allocation would leave the events too little room."""

    MIN_EVENTS_WIDTH = 60

    def __init__(self, snap: ViewSnapshot) -> None:
        self.snap = snap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        capital, events = _capital_panel(self.snap), _event_panel(self.snap)
        bottom = Table.grid(expand=True, padding=(0, 1))
        if not self.snap.allocation:
            bottom.add_column(ratio=1)
            bottom.add_column(ratio=3)
            bottom.add_row(capital, events)
            yield bottom
            return
        need = Measurement.get(console, options, capital).maximum
        if need + self.MIN_EVENTS_WIDTH > options.max_width:
            yield capital
            yield events
            return
        bottom.add_column()  # as wide as the allocation needs
        bottom.add_column(ratio=1)
        bottom.add_row(capital, events)
        yield bottom
