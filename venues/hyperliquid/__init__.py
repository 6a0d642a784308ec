"""The Hyperliquid venue: signing, wire types, REST/WS clients, and a faithful local fake for tests."""
