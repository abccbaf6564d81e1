"""A test kit that ships with the package: stand-ins for the outside world that users' tests can import too.

``engine.testing.events`` builds events in one line (``make_bar``, ``make_order``, ``make_fill``,
``make_update``). ``engine.clock.SimulatedClock`` is the controllable clock: ``advance_to(ts)`` fires every
timer due, in time order, and moves the time. ``adapters.sim.testing.Venue`` drives the simulated exchange on
hand-made bars (with the real ledger when given balances).

``engine.testing.binance`` holds a Binance-protocol REST server for 127.0.0.1 (``BinanceServer``) and
``make_client``, which returns the real ccxt ``binance`` client pointed at it. It needs ``aiohttp`` (a dev
dependency), so it is imported from its module rather than re-exported here. ``engine.testing.binance_live``
extends it to a live market: ``LiveBinanceServer`` moves the server time bar by bar (or plays it), pushes Binance's
market websocket (klines, trades, bookTicker) and injects the faults ccxt.pro meets live; ``make_pro_client``
returns the real ``ccxt.pro.binance`` pointed at it. The live server is also a trading counterparty: signed order
routes, matching driven by its market, exact balances, the ws-api user-data stream and order faults
(``engine.testing.binance_account``, ``binance_trading``, ``binance_user_stream``).
"""
