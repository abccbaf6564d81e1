"""The monitor's page (``engine.monitor``): one self-contained HTML file that polls ``state.json`` every second and
redraws itself.

Its charts are SVG drawn by its own short script rather than plotly: the page redraws every second on a machine
that is busy trading, and two line charts do not need a 4.8 MB library parsed into every tab (the report, read
once, does). Nothing is fetched but ``state.json`` from the page's own address, and the Content-Security-Policy
the server sends says so to the browser (scripts and styles allowed by their hashes only, connections to the page's
own origin only). Text from the session (reasons, names) enters the page as text nodes, never as markup.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE"]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #1f2d3d; color: #fff; padding: 14px 24px; display: flex; flex-wrap: wrap; gap: 8px 24px;
         align-items: baseline; }
header h1 { margin: 0; font-size: 20px; } header .sub { opacity: .8; font-size: 13px; }
header .state { margin-left: auto; font-weight: 600; padding: 2px 10px; border-radius: 4px; background: #2e7d32; }
header .state.warm { background: #8a6d00; } header .state.halt { background: #c62828; }
header .state.lost { background: #555; }
main { max-width: 1500px; margin: 0 auto; padding: 8px 20px 30px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 12px 0; }
.card, .panel { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 14px 10px; }
.card h3 { margin: 0 0 4px; font-size: 12px; text-transform: uppercase; color: #666; letter-spacing: .04em; }
.big { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; } .small { font-size: 13px; color: #555; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 4px 0 8px; } h4 { font-size: 13px; margin: 10px 0 4px; color: #444; }
table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { color: #555; font-weight: 600; background: #f6f6f6; }
td.l, th.l { text-align: left; } td.wrap { white-space: normal; text-align: left; }
td.none { text-align: left; color: #888; font-style: italic; }
td.note { text-align: left; color: #666; white-space: normal; padding-left: 24px; font-size: 12px; }
.buy { color: #1a7f37; } .sell { color: #c62828; } .bad { color: #c62828; font-weight: 600; }
.scroll { max-height: 320px; overflow: auto; }
svg.chart { width: 100%; height: 260px; display: block; }
svg text { font-size: 11px; fill: #555; font-family: inherit; }
.bar { height: 6px; background: #eee; border-radius: 3px; min-width: 80px; }
.bar div { height: 6px; border-radius: 3px; background: #1f77b4; } .bar div.hot { background: #c62828; }
footer { color: #777; font-size: 12px; text-align: center; padding: 8px; }
"""

SCRIPT = r"""
'use strict';
const NS = 'http://www.w3.org/2000/svg';
const $ = id => document.getElementById(id);
let updates = 0, failures = 0;

function node(tag, attrs, parent, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (parent) parent.appendChild(e);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function time(ms) { return ms == null ? '' : new Date(ms).toISOString().slice(0, 19).replace('T', ' '); }
// A time in a table: the time of day when it is the session clock's day, else the date too.
let today = '';
function when(ms) { const t = time(ms); return t && t.slice(0, 10) === today ? t.slice(11) : t; }
function clock(ms) { return ms == null ? '' : new Date(ms).toISOString().slice(11, 16); }
function num(x, digits) {
  if (x == null || x === '') return '';
  const v = Number(x);
  if (!isFinite(v)) return String(x);
  const d = digits === undefined ? (Math.abs(v) >= 1000 ? 2 : Math.abs(v) >= 1 ? 4 : 8) : digits;
  return v.toLocaleString('en-US', {maximumFractionDigits: d});
}

// A table from column titles and rows of cells; a cell is text or {text, cls, bar}; notes[i], when given, is a
// line of its own under row i (a rejection's reason).
function table(id, columns, rows, empty, notes) {
  const t = clear($(id));
  const head = node('tr', {}, node('thead', {}, t));
  columns.forEach((c, i) => node('th', {class: i ? '' : 'l'}, head, c));
  const body = node('tbody', {}, t);
  if (!rows.length) {
    node('td', {class: 'none', colspan: columns.length}, node('tr', {}, body), empty || 'none');
    return;
  }
  rows.forEach((row, r) => {
    const tr = node('tr', {}, body);
    row.forEach((cell, i) => {
      const c = (cell !== null && typeof cell === 'object') ? cell : {text: cell};
      const td = node('td', {class: (i ? '' : 'l ') + (c.cls || '')}, tr, c.text);
      if (c.bar !== undefined) {
        const outer = node('div', {class: 'bar'}, td), inner = node('div', {class: c.bar >= 0.8 ? 'hot' : ''}, outer);
        inner.style.width = Math.max(0, Math.min(100, 100 * c.bar)) + '%';
      }
    });
    if (notes && notes[r]) node('td', {class: 'note', colspan: columns.length}, node('tr', {}, body), notes[r]);
  });
}

// A line chart: series [{x: [...], y: [...], color, label}], markers [{x, y, up}], a vertical line at mark.
function chart(svg, series, markers, mark, empty) {
  clear(svg);
  const W = Math.max(300, Math.round(svg.getBoundingClientRect().width) || 800), H = 260;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const xs = [], ys = [];
  for (const s of series) s.x.forEach((x, i) => { if (s.y[i] != null) { xs.push(x); ys.push(s.y[i]); } });
  for (const m of markers) { xs.push(m.x); ys.push(m.y); }
  if (!xs.length) { node('svg:text', {x: 20, y: H / 2}, svg, empty); return; }
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) { x0 -= 60000; x1 += 60000; }
  const pad = (y1 - y0) * 0.06 || Math.abs(y0) * 0.01 || 1; y0 -= pad; y1 += pad;
  const L = 70, R = 14, T = 22, B = 24;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R), sy = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    node('svg:line', {x1: L, x2: W - R, y1: sy(y), y2: sy(y), stroke: '#eee'}, svg);
    node('svg:text', {x: L - 6, y: sy(y) + 4, 'text-anchor': 'end'}, svg, num(y, Math.abs(y) >= 100 ? 0 : 2));
  }
  for (let i = 0; i <= 4; i++) {
    const x = x0 + (x1 - x0) * i / 4;
    node('svg:text', {x: sx(x), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}, svg,
         i === 0 ? time(x).slice(0, 16) : clock(x));
  }
  if (mark != null && mark >= x0 && mark <= x1) {
    node('svg:line', {x1: sx(mark), x2: sx(mark), y1: T, y2: H - B, stroke: '#999', 'stroke-dasharray': '4 3'}, svg);
    node('svg:text', {x: sx(mark) + 4, y: T + 10}, svg, 'live');
  }
  let lx = L;
  for (const s of series) {
    let d = '';
    s.x.forEach((x, i) => {
      if (s.y[i] != null) d += (d ? 'L' : 'M') + sx(x).toFixed(1) + ' ' + sy(s.y[i]).toFixed(1);
    });
    if (d) node('svg:path', {d: d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 1.6,
                             'stroke-dasharray': s.dash || ''}, svg);
    node('svg:rect', {x: lx, y: 6, width: 14, height: 3, fill: s.color}, svg);
    node('svg:text', {x: lx + 18, y: 12}, svg, s.label);
    lx += 30 + 7 * s.label.length;
  }
  for (const m of markers) {
    const x = sx(m.x), y = sy(m.y);
    const tip = m.up ? -7 : 7, base = m.up ? 5 : -5;  // up: a buy, below the price; down: a sell
    const d = `M${x} ${y + tip}L${x - 6} ${y + base}L${x + 6} ${y + base}Z`;
    node('svg:path', {d: d, fill: m.up ? '#1a7f37' : '#c62828', class: 'fill-marker'}, svg);
  }
}

function render(s) {
  const about = s.about || {};
  $('title').textContent = 'mlct ' + (about.kind || 'session') + ' monitor';
  $('sub').textContent = [(about.strategies || []).join(', '), (about.symbols || []).join(', '), about.timeframe,
                          about.exchange].filter(Boolean).join(' · ');
  if (!s.started) { setState('starting', 'warm'); return; }
  setState(s.state, s.state === 'trading' ? '' : s.state === 'warming up' ? 'warm' : 'halt');
  $('clock').textContent = 'session clock ' + time(s.now) + ' UTC';
  today = time(s.now).slice(0, 10);

  const eq = s.equity;
  $('equity').textContent = num(eq.now, 2) + ' ' + eq.currency;
  const hold = eq.buy_hold.length ? eq.buy_hold[eq.buy_hold.length - 1] : null;
  $('pnl').textContent = eq.start == null ? 'from the first live bar' :
      `PnL ${num(eq.now - eq.start, 2)} (${num(100 * (eq.now / eq.start - 1), 2)}%) · buy and hold ${num(hold, 2)}`;
  $('bars-live').textContent = String(s.bars.live);
  $('last-bar').textContent = Object.entries(s.bars.last).map(([sym, b]) =>
      `${sym} ${time(b.ts)} close ${num(b.close)}`).join(' · ') + ` · warm-up ${s.bars.warmup}`;
  $('trading').textContent = s.state;
  $('halts').textContent = s.halts.length ? s.halts.map(h => `${h.by}: ${h.reason}`).join('; ') : 'no halt';
  const k = s.kill_switch;
  $('kill').textContent = k ? 'PULLED' : 'not pulled';
  $('kill').className = 'big' + (k ? ' bad' : '');
  $('kill-detail').textContent = k ? `${time(k.ts)} by ${k.by}: ${k.reason}` +
      (k.cancel ? ' · cancel' : '') + (k.flatten ? ' · flatten' : '') : 'mlct live kill CONFIG pulls it';

  chart($('equity-chart'), [
    {x: eq.ts, y: eq.equity, color: '#1f77b4', label: 'equity', width: 2},
    {x: eq.ts, y: eq.buy_hold, color: '#999', label: 'buy and hold', dash: '5 3'}], [], null,
    'waiting for the first live bar');
  const holder = $('price-charts');
  for (const [sym, p] of Object.entries(s.prices)) {
    const id = 'price-' + sym.replace(/[^A-Za-z0-9]/g, '_');
    let svg = document.getElementById(id);
    if (!svg) { node('h4', {}, holder, sym); svg = node('svg:svg', {id: id, class: 'chart'}, holder); }
    const first = p.ts.length ? p.ts[0] : Infinity;
    const marks = s.fills.filter(f => f.symbol === sym && f.ts >= first)
                        .map(f => ({x: f.ts, y: Number(f.price), up: f.side === 'buy'}));
    chart(svg, [{x: p.ts, y: p.close, color: '#444', label: sym + ' close'}], marks, eq.live_from, 'no bar yet');
  }

  table('positions', ['symbol', 'quantity', 'avg price', 'last', 'unrealized', 'realized', 'on order'],
        s.positions.map(p => [p.symbol, num(p.quantity), num(p.average_price), num(p.last), num(p.unrealized, 2),
                              num(p.realized, 2), num(p.on_order)]));
  table('balances', ['currency', 'total', 'free'], s.balances.map(b => [b.currency, num(b.total), num(b.free)]));
  table('open-orders', ['id', 'time', 'symbol', 'side', 'type', 'quantity', 'price', 'filled', 'status'],
        s.open_orders.map(o => [o.id, when(o.ts), o.symbol, {text: o.side, cls: o.side}, o.type, num(o.quantity),
                                num(o.price || o.stop_price), num(o.filled), o.status]), 'no open order');
  table('fills', ['order', 'time', 'symbol', 'side', 'price', 'quantity', 'fee', 'liquidity'],
        s.fills.map(f => [f.id, when(f.ts), f.symbol, {text: f.side, cls: f.side}, num(f.price), num(f.quantity),
                          num(f.fee) + ' ' + f.fee_currency, f.liquidity]), 'no fill yet');
  table('orders', ['id', 'time', 'symbol', 'order', 'quantity @ price', 'status', 'filled'],
        s.orders.map(o => [o.id, when(o.ts), o.symbol, {text: (o.side + ' ' + o.type).trim(), cls: o.side},
                           num(o.quantity) + (o.price ? ' @ ' + num(o.price) : ''),
                           {text: o.status, cls: o.status === 'rejected' ? 'bad' : ''}, num(o.filled)]),
        'no order yet', s.orders.map(o => o.reason));
  table('signals', ['signal', 'time', 'symbol', 'direction', 'strength', 'values behind it'],
        s.signals.map(g => [g.name, when(g.ts), g.symbol,
                            {text: g.direction > 0 ? 'buy +1' : g.direction < 0 ? 'sell -1' : 'flat 0',
                             cls: g.direction > 0 ? 'buy' : g.direction < 0 ? 'sell' : ''},
                            num(g.strength, 4),
                            {text: g.values.slice(0, 12).map(([k, v]) => `${k} ${num(v, 4)}`).join(' · '),
                             cls: 'wrap'}]), 'no signal yet');
  const feedRows = [];
  for (const f of s.feeds) {
    const quiet = f.seconds_since_message == null ? '' : num(f.seconds_since_message, 1) + ' s';
    const known = [['last bar', time(f.last_bar_ts)], ['closed bars', f.bars], ['back-filled bars', f.backfilled_bars],
                   ['warm-up bars', f.warmup_bars], ['reconnects', f.reconnects], ['restarts', f.restarts],
                   ['since last message', quiet],
                   ['faults', Object.entries(f.faults || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none']];
    const shown = new Set(['feed', 'last_bar_ts', 'bars', 'backfilled_bars', 'warmup_bars', 'reconnects', 'restarts',
                           'seconds_since_message', 'faults', 'last_message_at']);
    for (const [key, value] of known) feedRows.push([`${f.feed}: ${key}`, {text: value == null ? '' : String(value)}]);
    for (const [key, value] of Object.entries(f)) if (!shown.has(key))
      feedRows.push([`${f.feed}: ${key}`, typeof value === 'object' ? JSON.stringify(value) : String(value)]);
  }
  table('feed', ['', 'value'], feedRows, 'the feed reports no health');
  table('risk', ['limit', 'value', 'now', 'used'],
        s.risk.limits.map(r => [r.limit, num(r.value), {text: r.text, cls: 'wrap'},
                                {text: r.share == null ? '' : num(100 * r.share, 1) + '%', bar: r.share || 0}]),
        'no risk limit set ([risk] in the config)');
  table('breaches', ['time', 'limit', 'detail', 'order'],
        s.risk.breaches.map(b => [when(b.ts), {text: b.limit + (b.halted ? ' (halt)' : ''), cls: 'bad'},
                                  {text: b.detail, cls: 'wrap'}, b.id]), 'no breach');
  table('failures', ['time', 'handler', 'event', 'error'],
        s.failures.map(f => [when(f.ts), f.handler, f.event, {text: f.error, cls: 'wrap'}]), 'no failure');
}

function setState(text, cls) {
  const e = $('state');
  e.textContent = text;
  e.className = 'state ' + (cls || '');
}

async function poll() {
  try {
    const response = await fetch('state.json', {cache: 'no-store'});
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const state = await response.json();
    render(state);
    updates += 1; failures = 0;
    document.body.dataset.updates = String(updates);
    $('updated').textContent = 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC';
  } catch (err) {
    failures += 1;
    setState('no answer: the session may have stopped', 'lost');
    $('updated').textContent = 'last attempt failed: ' + err.message;
  } finally {
    setTimeout(poll, failures ? Math.min(5000, 1000 * failures) : 1000);
  }
}
poll();
"""

BODY = """
<header><h1 id="title">mlct monitor</h1><span class="sub" id="sub"></span><span class="sub" id="clock"></span>
<span class="state warm" id="state">connecting</span></header>
<main>
<div class="cards">
  <div class="card"><h3>Equity</h3><div class="big" id="equity">-</div><div class="small" id="pnl"></div></div>
  <div class="card"><h3>Live bars</h3><div class="big" id="bars-live">0</div>
    <div class="small" id="last-bar"></div></div>
  <div class="card"><h3>Trading</h3><div class="big" id="trading">-</div><div class="small" id="halts"></div></div>
  <div class="card"><h3>Kill switch</h3><div class="big" id="kill">-</div>
    <div class="small" id="kill-detail"></div></div>
</div>
<div class="grid">
  <div class="panel"><h2>Equity against buy and hold</h2><svg class="chart" id="equity-chart"></svg></div>
  <div class="panel"><h2>Price and fills</h2><div id="price-charts"></div></div>
  <div class="panel"><h2>Positions</h2><table id="positions"></table><h4>Balances</h4><table id="balances"></table>
  </div>
  <div class="panel"><h2>Open orders</h2><div class="scroll"><table id="open-orders"></table></div></div>
  <div class="panel"><h2>Recent fills</h2><div class="scroll"><table id="fills"></table></div></div>
  <div class="panel"><h2>Recent orders</h2><div class="scroll"><table id="orders"></table></div></div>
  <div class="panel wide"><h2>Latest signals and the values behind them</h2>
    <div class="scroll"><table id="signals"></table></div></div>
  <div class="panel"><h2>Feed health</h2><table id="feed"></table></div>
  <div class="panel"><h2>Risk limits and their use</h2><table id="risk"></table>
    <h4>Breaches</h4><div class="scroll"><table id="breaches"></table></div>
    <h4>Failed handlers</h4><div class="scroll"><table id="failures"></table></div></div>
</div>
</main>
<footer>Read-only: this page places and cancels nothing. <span id="updated"></span></footer>
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# The browser runs the inline script and style because their hashes match, and nothing else; the page may connect
# to its own origin only, and loads no image but the empty data: icon.
CONTENT_SECURITY_POLICY = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
                           "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                           "frame-ancestors 'none'")

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>mlct monitor</title>
<style>{STYLE}</style>
</head>
<body data-updates="0">
{BODY}
<script>{SCRIPT}</script>
</body>
</html>
"""
