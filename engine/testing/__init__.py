"""A test kit that ships with the package: stand-ins for the outside world that users' tests can import too.

``engine.testing.binance`` holds a Binance-protocol REST server for 127.0.0.1 (``BinanceServer``) and
``make_client``, which returns the real ccxt ``binance`` client pointed at it. It needs ``aiohttp`` (a dev
dependency), so it is imported from its module rather than re-exported here.
"""
