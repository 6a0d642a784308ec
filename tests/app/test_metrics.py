"""The opt-in Prometheus endpoint, scraped over HTTP from a real run."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.hive_helpers import ROOT, wait_for


def _scrape(url: str) -> dict[str, list]:
    text = httpx.get(url, timeout=5).text
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_a_headless_run_serves_metrics_a_scraper_reads(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "config.toml").read_text().replace('[run]\n', f'[run]\njournal_dir = "{tmp_path}"\n', 1))
    proc = subprocess.Popen([sys.executable, "-m", "makerhive.cli", "run", "--headless", "--config", str(cfg),
                             "--duration", "240", "--speed", "20", "--metrics-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line: list[str] = []

        def read() -> None:  # the headless run's first lines: its header and the metrics URL
            for _ in range(5):
                text = proc.stdout.readline()
                if text.startswith("metrics: ") or not text:
                    line.append(text)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(30)
        assert line and line[0].startswith("metrics: http://127.0.0.1:"), (line, proc.poll())
        url = line[0].split()[1]
        scraped: dict[str, list] = {}

        def filled() -> bool:
            scraped.update(_scrape(url))
            return sum(s.value for s in scraped.get("makerhive_fills", []) if s.name.endswith("_total")) > 0

        wait_for(filled, timeout=60, poll=0.5, what="fills counted in the metrics")
        names = set(scraped)
        assert all(n.startswith("makerhive_") for n in names if not n.startswith(("python_", "process_")))
        for n in ("makerhive_net_pnl_usd", "makerhive_inventory_usd", "makerhive_inventory_limit_usd",
                  "makerhive_quote_bid_px", "makerhive_open_orders", "makerhive_fills", "makerhive_rejects",
                  "makerhive_restarts", "makerhive_halted", "makerhive_budget_share_left",
                  "makerhive_order_ack_latency_seconds", "makerhive_asset_phase"):
            assert n in names, n
        # every series the example Grafana dashboard charts is one we serve
        dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
        charted = {re.sub(r"_(total|bucket|count|sum)$", "", m)
                   for p in dashboard["panels"] for t in p["targets"] for m in re.findall(r"makerhive_\w+", t["expr"])}
        assert charted and charted <= names, charted - names
        assets = {s.labels["asset"] for s in scraped["makerhive_open_orders"]}
        assert assets == {"BTC", "ETH", "SOL", "XRP", "HYPE"}
        acks = [s for s in scraped["makerhive_order_ack_latency_seconds"] if s.name.endswith("_count")]
        assert sum(s.value for s in acks) > 0  # the histogram is fed as acks come back
        quoting = [s for s in scraped["makerhive_asset_phase"] if s.labels["phase"] == "quoting" and s.value == 1]
        assert quoting
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    # the endpoint went with the run
    try:
        httpx.get(url, timeout=2)
        gone = False
    except httpx.TransportError:
        gone = True
    assert gone
