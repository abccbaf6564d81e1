"""The page around the sections: styles (system fonts only), the Content-Security-Policy, the HTML skeleton.

Wide content never widens the page: tables scroll inside their own box (``.scroll``), charts fit their
section, long words (hashes, paths) break.
"""

from __future__ import annotations

from pathlib import Path

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:")

STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fafafa; overflow-wrap: anywhere; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; opacity: .8; font-size: 14px; }
main { max-width: 1400px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 16px 0; padding: 8px 16px 12px;
          min-width: 0; }
h2 { font-size: 17px; margin: 8px 0; } h3 { font-size: 15px; margin: 12px 0 6px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
table.stats th:first-child, table.kv th { text-align: left; font-weight: 600; }
table.kv td { text-align: left; white-space: normal; overflow-wrap: anywhere; }
table.grid thead th, table.trades thead th { position: sticky; top: 0; background: #f3f3f3; }
table.grid thead th { white-space: normal; overflow-wrap: normal; vertical-align: bottom; min-width: 64px; }
tr.win td:nth-child(8), tr.win td:nth-child(9) { color: #1a7f37; }
tr.loss td:nth-child(8), tr.loss td:nth-child(9) { color: #c62828; }
.overview, .cards { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.overview .grow { flex: 1 1 600px; min-width: 0; }
.cards > div { flex: 1 1 320px; min-width: 0; }
.cards > div.wide { flex: 2 1 520px; }
.scroll { max-width: 100%; overflow-x: auto; } .scroll.tall { max-height: 480px; overflow-y: auto; }
.note { color: #666; font-size: 13px; }
.chart { width: 100%; min-width: 0; }
.header-tables { max-width: 1400px; margin: 0 auto; padding: 12px 24px 0; }
.header-tables > div { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 4px 12px 8px; }
.header-tables h3 { margin: 6px 0; }
code { font-size: 12px; }
li { margin: 3px 0; font-size: 14px; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="mlct-charts" content="{n_charts}">
<title>{title}: back-test report</title>
<style>{style}</style>
<script>{plotly}</script>
</head>
<body>
<header><h1>{title}: back-test report</h1><p>{subtitle}</p></header>
<div class="header-tables cards">{header}</div>
<main>
{body}
</main>
<script>
{scripts}
</script>
</body>
</html>
"""


def write_page(text: str, path: str | Path) -> Path:
    """Write one HTML document to ``path`` (its directories created); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
