"""Exchange rules that every layer shares: Hyperliquid's price ticks, lot sizes and
minimum notional (``ticks``), and the client-order-id layout (``cloid``)."""
