"""The live terminal view: one pure function from a ``ViewSnapshot`` to a rich renderable.

``render`` does no I/O and builds fresh renderables on every call, so rich's refresh thread
never draws something another thread mutates. It runs in the view child process (see
``makerhive.view_process``): a frame costs milliseconds of GIL, which the trading process must
not pay. Every string that comes from the hive (asset names, event texts, halt reasons) is put
into ``Text`` objects, never parsed as console markup.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, NamedTuple

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from messages.control import Event
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
    "tune": "cyan",  # the runtime auto-tuner moved the spread or the skew
    "sweep": "yellow",  # the sweep guard pulled a side for a moment
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
def _header(snap: ViewSnapshot, *, compact: bool = False, wide: bool = True) -> Text:
    """Venue, speed, clocks, PnL and capital; under it the venue's budgets (the sim's too),
    each on one line at any width (the switch's daily action cost only when ``wide``)."""
    t = Text()
    t.append("makerhive", style="bold cyan")
    t.append(" " if compact else "  venue ")
    t.append(snap.venue or "?", style="bold")
    t.append(f"  x{snap.speed:g}", style="bold")
    t.append("  " if compact else "  sim ")
    t.append(fmt_hms(snap.sim_time_s), style="bold")
    if not compact:
        t.append("  wall ")
        t.append(fmt_hms(snap.wall_time_s), style="bold")
    t.append("  PnL ")
    t.append_text(pnl_text(snap.portfolio_pnl))
    t.append("  capital ")
    t.append(fmt_usd(snap.capital, 0), style="bold")
    vs = snap.venue_status
    if "address_cap" in vs:  # the venue's budgets (the sim reports them too)
        ip_used, ip_cap = int(vs.get("ip_weight_used", 0)), int(vs.get("ip_weight_cap", 1200))
        left, cap = int(vs.get("address_left", 0)), int(vs.get("address_cap", 0))
        network = str(vs.get("network", ""))
        t.append(f"\n{network}", style="bold magenta")
        t.append(("  " if network else "") + ("IP " if compact else "IP weight "))
        t.append(f"{ip_used}/{ip_cap}/min", style=_pct_style(100 * ip_used / max(1, ip_cap)))
        t.append("  actions left " if compact else "  address actions left ")
        t.append(f"{left:,}/{cap:,}", style=_pct_style(100 - 100 * left / max(1, cap)))
        if "reconnects" in vs:
            t.append(f"  reconnects {int(vs.get('reconnects', 0))}")
    dms_at = float(vs.get("dms_at", 0.0) or 0.0)
    if dms_at:
        t.append(f"  dead-man's switch in {max(0.0, dms_at - float(vs.get('now', dms_at))):.0f}s")
        if vs.get("dms_actions_per_day") and wide:
            t.append(f" ({vs['dms_actions_per_day']} actions/day)")
    if vs.get("dms_blocked"):
        t.append(f"  NOT QUOTING: {vs['dms_blocked']}", style="bold red")
    return t


def _state(row: AssetRow) -> Text:
    t = Text(row.phase, style=PHASE_STYLE.get(row.phase, ""))
    if row.halt_reason:
        t.append(f" ({row.halt_reason})", style="red")
    return t


def _blank0(text: str, x: float) -> str:
    return text if x else ""


def _bp(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.1f}"


def _sizes(r: AssetRow) -> str:
    if not (r.bid_size or r.ask_size):
        return ""
    return f"{fmt_sig(r.bid_size, 3) if r.bid_size else '-'}/{fmt_sig(r.ask_size, 3) if r.ask_size else '-'}"


def _markout(r: AssetRow) -> Text:
    if r.markout_bp is None or not math.isfinite(r.markout_bp):
        return Text("")
    return Text(f"{r.markout_bp:+.1f}", style="green" if r.markout_bp > 0 else "red" if r.markout_bp < 0 else "")


# Every column the assets table can show: header (full, short), how a cell is made, and
# whether it is a number (right-aligned). The layouts below pick from these by width.
COLUMNS = {
    "state": (("state", "state"), _state, False),
    "regime": (("regime", "regime"), lambda r: Text(r.regime), False),
    "mid": (("mid", "mid"), lambda r: fmt_price(r.mid), True),
    "mkt_bp": (("spr bp", "bp"), lambda r: f"{r.spread_bp:.1f}" if r.spread_bp else "", True),
    "bid": (("our bid", "bid"), lambda r: fmt_price(r.our_bid, blank_zero=True), True),
    "ask": (("our ask", "ask"), lambda r: fmt_price(r.our_ask, blank_zero=True), True),
    "our_bp": (("our bp", "our"), lambda r: _bp(r.own_spread_bp), True),
    "sizes": (("size b/a", "size"), _sizes, True),
    "open": (("open", "open"), lambda r: _blank0(str(r.open_orders), r.open_orders), True),
    "inv": (("inventory", "inv"), lambda r: fmt_qty(r.inventory), True),
    "inv_usd": (("inv $", "inv $"), lambda r: fmt_usd(r.inventory_usd, 0, sign=True) if r.inventory_usd else "$0", True),
    "pct": (("% lim", "%lim"), lambda r: Text(f"{r.inventory_pct:.0f}%", style=_pct_style(r.inventory_pct)), True),
    "net": (("net", "net"), lambda r: pnl_text(r.net_pnl), True),
    "real": (("realized", "real"), lambda r: pnl_text(r.realized_pnl), True),
    "unreal": (("unrealized", "unreal"), lambda r: pnl_text(r.unrealized_pnl), True),
    "fees": (("fees", "fees"), lambda r: fmt_usd(r.fees), True),
    "fills": (("fills b/s", "b/s"), lambda r: f"{r.fills_buy}/{r.fills_sell}", True),
    "fpm": (("fills/min", "f/m"), lambda r: f"{r.fills_per_min:.1f}" if r.fills_per_min else "", True),
    "mo": (("mo 5s bp", "mo"), _markout, True),
    "rst": (("rst", "rst"), lambda r: Text(str(r.restarts), style="yellow" if r.restarts else ""), True),
    "swept": (("swept", "swp"), lambda r: _blank0(str(r.sweeps), r.sweeps), True),
}
LAYOUTS = (  # widest first; the first that fits the width is drawn: (columns, short headers, state width)
    (("state", "regime", "mid", "mkt_bp", "bid", "ask", "our_bp", "sizes", "open", "inv", "inv_usd", "pct",
      "net", "real", "unreal", "fees", "fills", "fpm", "mo", "swept", "rst"), False, 32),
    (("state", "regime", "mid", "mkt_bp", "bid", "ask", "our_bp", "sizes", "open", "inv", "inv_usd", "pct",
      "net", "real", "unreal", "fees", "fills", "fpm", "mo", "rst"), True, 24),
    (("state", "mid", "bid", "ask", "our_bp", "open", "inv_usd", "pct", "net", "real", "unreal", "fees",
      "fills", "fpm", "mo", "rst"), True, 14),
    (("state", "mid", "bid", "ask", "our_bp", "open", "inv_usd", "pct", "net", "fpm", "mo", "rst"), True, 12),
    (("state", "bid", "ask", "our_bp", "open", "inv_usd", "pct", "net", "fpm", "mo"), True, 10),
)


def _assets_table(snap: ViewSnapshot, *, compact: bool = False,
                  layout: tuple[tuple[str, ...], bool, int] | None = None) -> Table:
    cols, short, state_w = layout if layout is not None else LAYOUTS[-1] if compact else LAYOUTS[0]
    t = Table(box=None, header_style="bold", pad_edge=False,
              padding=(0, 1, 0, 0) if short else (0, 1))
    t.add_column("asset", no_wrap=True)
    for key in cols:
        (full, brief), _, number = COLUMNS[key]
        if key == "state":
            t.add_column(full, no_wrap=True, overflow="ellipsis", max_width=state_w)
        else:
            t.add_column(brief if short else full, justify="right" if number else "left", no_wrap=True,
                         overflow="ellipsis", max_width=8 if key == "regime" and short else None)
    for r in snap.assets:
        t.add_row(Text(r.asset, style="bold"), *(COLUMNS[key][1](r) for key in cols))
    if not snap.assets:
        t.add_row(Text("no assets", style="dim"))
    return t


class _Assets:
    """The assets table, the widest layout that fits the width it is given (in a panel
    when there is room for one)."""

    def __init__(self, snap: ViewSnapshot, *, bare: bool = False) -> None:
        self.snap = snap
        self.bare = bare  # no panel, no title: the table alone (small terminals)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=10_000)  # a measurement is capped at the width it is given
        for i, layout in enumerate(LAYOUTS):
            table = _assets_table(self.snap, layout=layout)
            need = Measurement.get(console, unbounded, table).maximum
            if self.bare and (need <= options.max_width or i == len(LAYOUTS) - 1):
                yield table
                return
            if need + 4 <= options.max_width:  # the panel's border and padding take 4 cells
                yield Panel(table, title="assets", title_align="left")
                return
            if need <= options.max_width or i == len(LAYOUTS) - 1:
                yield Text("assets", style="bold")
                yield table
                return


def _guards(snap: ViewSnapshot, *, one_line: bool) -> list[Text]:
    """The guards and breakers in force: the quoter's notes, halts, quoting sides switched off."""
    notes = [(r.asset, r.guard) for r in snap.assets if r.guard]
    if not notes:
        return []
    if one_line:
        t = Text("guards: ", style="yellow")
        t.append("; ".join(f"{a} {g}" for a, g in notes))
        t.no_wrap, t.overflow = True, "ellipsis"
        return [t]
    out = []
    for a, g in notes:
        t = Text("guard ", style="yellow")
        t.append(f"{a}: ", style="bold")
        t.append(g)
        t.no_wrap, t.overflow = True, "ellipsis"
        out.append(t)
    return out


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
        t.add_column(justify="right", no_wrap=True)  # multipliers: one line, never split
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


_MORE = re.compile(r" \(\+(\d+) more in the last [^)]*\)$")


class EventLine(NamedTuple):
    ts: float  # the latest
    kind: str
    asset: str
    text: str
    count: int


def aggregate(events: Iterable[Event]) -> list[EventLine]:
    """Events in time order, repeats folded into one line with a count: rejects of one
    asset whose texts differ only in numbers are one line (and a reject line's "+N more"
    counts in); any other event repeats only with the same text."""
    lines: dict[tuple[str, str, str], EventLine] = {}
    for e in sorted(events, key=lambda e: e.ts):
        text, n = e.text, 1
        m = _MORE.search(text)
        if m:
            text, n = text[: m.start()], 1 + int(m.group(1))
        key = (e.kind, e.asset, re.sub(r"[-+0-9.,x]+", "#", text) if e.kind == "reject" else text)
        old = lines.pop(key, None)
        lines[key] = EventLine(e.ts, e.kind, e.asset, text, n + (old.count if old else 0))
    return sorted(lines.values(), key=lambda x: x.ts)


def _event_rows(snap: ViewSnapshot, n: int) -> Table:
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
    lines = aggregate(snap.events)[-n:]
    for e in lines:
        style = EVENT_STYLE.get(e.kind, "")
        text = Text(e.text, style=style)
        if e.count > 1:
            text = Text.assemble((f"x{e.count} ", "bold"), text)
        t.add_row(Text(fmt_hms(e.ts), style="dim"), Text(e.kind, style=style), Text(e.asset), text)
    if not lines:
        t.add_row(Text("no events yet", style="dim"))
    return t


def _event_panel(snap: ViewSnapshot, n: int = EVENT_LINES) -> Panel:
    return Panel(_event_rows(snap, n), title="events", title_align="left")


def _fill_rows(snap: ViewSnapshot, n: int) -> Table:
    t = Table.grid(padding=(0, 1))
    for justify in ("left", "left", "left", "right", "right"):
        t.add_column(no_wrap=True, justify=justify)
    fills = snap.fills[-n:]
    for f in reversed(fills):  # newest first
        buy = f.side == "B"
        t.add_row(Text(fmt_hms(f.ts), style="dim"), Text(f.asset, style="bold"),
                  Text("buy" if buy else "sell", style="green" if buy else "red"), fmt_sig(f.sz, 4), fmt_price(f.px))
    if not fills:
        t.add_row(Text("no fills yet", style="dim"))
    return t


def _fills_panel(snap: ViewSnapshot, n: int, *, fit: bool = False) -> Panel:
    return Panel(_fill_rows(snap, n), title="recent fills", title_align="left", expand=not fit)


def _capital_line(snap: ViewSnapshot) -> list[Text]:
    """The allocation in one line (and the portfolio's limits in another), for small terminals."""
    alloc = {r.asset: r for r in snap.allocation}
    t = Text("capital ", style="bold")
    for r in snap.assets:
        a = alloc.get(r.asset)
        cap = a.capital if a is not None else r.capital
        zone = (a.zone if a.state == "active" else a.state) if a is not None else ""
        t.append(f"{r.asset} {fmt_usd(cap, 0)}")
        if zone:
            t.append(f" {zone}", style=ZONE_STYLE.get(zone, "magenta" if a and a.state != "active" else ""))
        t.append("  ")
    t.no_wrap, t.overflow = True, "ellipsis"
    out = [t]
    p = snap.portfolio
    if p is not None:
        line = Text(f"exposure {fmt_usd(p.exposure_usd, 0)}/{fmt_usd(p.exposure_cap_usd, 0)}  "
                    f"drawdown {p.drawdown:.2%}/{p.drawdown_stop:.2%}")
        if p.halted:
            line.append(f"  HALTED: {p.halt_reason}", style="bold white on red")
        line.no_wrap, line.overflow = True, "ellipsis"
        out.append(line)
    return out


WIDE, MEDIUM = 150, 100  # the layout is chosen by the width: >= 150, >= 100, smaller


def render(snap: ViewSnapshot) -> RenderableType:
    """The whole frame for ``snap``. Pure: no I/O, no shared state; laid out for the
    width it is drawn at (160x45, 100x30 and 80x24 each show everything that matters)."""
    return _Frame(snap)


class _Frame:
    def __init__(self, snap: ViewSnapshot) -> None:
        self.snap = snap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        snap, width = self.snap, options.max_width
        yield _header(snap, compact=width < MEDIUM, wide=width >= WIDE)
        if snap.stopping:
            yield Text("stopping: cancelling every order…", style="bold white on red")
        yield _Assets(snap, bare=width < WIDE)
        yield from _guards(snap, one_line=width < WIDE)
        if width >= WIDE:
            yield _Bottom(snap)
            yield _fills_panel(snap, 6, fit=True)
        elif width >= MEDIUM:
            yield _capital_panel(snap)
            side = Table.grid(expand=True, padding=(0, 1))
            side.add_column(ratio=3)
            side.add_column(ratio=2)
            side.add_row(_event_panel(snap, 6), _fills_panel(snap, 6))
            yield side
        else:
            yield from _capital_line(snap)
            yield Text("events", style="bold")
            yield _event_rows(snap, 5)
            yield Text("recent fills", style="bold")
            yield _fill_rows(snap, 4)
        if snap.journal and width >= MEDIUM:
            yield Text(f"journal {snap.journal}", style="dim", no_wrap=True, overflow="ellipsis")


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
        if need + 2 + self.MIN_EVENTS_WIDTH > options.max_width:
            yield capital
            yield events
            return
        # as wide as the allocation needs, so its rows never wrap (rich measures this
        # grid a column short of its bold total row: +2)
        bottom.add_column(width=need + 2)
        bottom.add_column(ratio=1)
        bottom.add_row(capital, events)
        yield bottom
