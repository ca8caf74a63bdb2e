/** The dashboard's stylesheet: system fonts, one accent colour, light and dark from the OS setting. */
export const DASHBOARD_STYLE = String.raw`
:root {
  --bg: #f5f6f8;
  --panel: #ffffff;
  --text: #1c2128;
  --muted: #667080;
  --faint: #8b94a3;
  --border: #e2e5ea;
  --row: #f9fafb;
  --track: #e7eaef;
  --accent: #2f6fde;
  --accent-soft: rgba(47, 111, 222, 0.14);
  --ok: #1a7f45;
  --ok-soft: rgba(26, 127, 69, 0.12);
  --bad: #c0362c;
  --bad-soft: rgba(192, 54, 44, 0.11);
  --warn: #a35f00;
  --warn-soft: rgba(163, 95, 0, 0.12);
  --shadow: 0 1px 2px rgba(16, 24, 40, 0.05);
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", Arial, sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116;
    --panel: #161a21;
    --text: #e4e7ec;
    --muted: #9aa3b2;
    --faint: #6f7887;
    --border: #252b35;
    --row: #1a1f27;
    --track: #262d38;
    --accent: #6ea1ff;
    --accent-soft: rgba(110, 161, 255, 0.16);
    --ok: #4cc38a;
    --ok-soft: rgba(76, 195, 138, 0.14);
    --bad: #f0776c;
    --bad-soft: rgba(240, 119, 108, 0.14);
    --warn: #e0a43a;
    --warn-soft: rgba(224, 164, 58, 0.14);
    --shadow: none;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0;
  font: 14px/1.45 var(--sans);
  color: var(--text);
  background: var(--bg);
  -webkit-font-smoothing: antialiased;
}
code, .mono { font-family: var(--mono); font-size: 12.5px; }

.top {
  display: flex;
  align-items: center;
  gap: 32px;
  padding: 16px 32px;
  background: var(--panel);
  border-bottom: 1px solid var(--border);
  flex-wrap: wrap;
}
.brand { display: flex; align-items: baseline; gap: 8px; font-weight: 650; font-size: 18px; letter-spacing: -0.01em; }
.brand .mark {
  align-self: center;
  width: 12px; height: 12px; border-radius: 3px;
  background: var(--accent);
  box-shadow: 4px 4px 0 var(--accent-soft);
  margin-right: 4px;
}
.brand .sub { font-weight: 400; font-size: 13px; color: var(--muted); }
.server { display: flex; gap: 28px; margin: 0; flex-wrap: wrap; }
.server div { display: flex; flex-direction: column; }
.server dt { font-size: 11px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--faint); }
.server dd { margin: 0; }
.server code { font-size: 12.5px; }
.status {
  margin-left: auto;
  display: inline-flex; align-items: center; gap: 7px;
  font-size: 12.5px; color: var(--muted);
  padding: 4px 10px; border: 1px solid var(--border); border-radius: 999px;
}
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.status[data-state="live"] .dot { background: var(--ok); box-shadow: 0 0 0 3px var(--ok-soft); }
.status[data-state="offline"] .dot { background: var(--bad); }

main { max-width: 1280px; margin: 0 auto; padding: 24px 32px 8px; }
.stats { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; margin-bottom: 20px; }
.stat {
  background: var(--panel); border: 1px solid var(--border); border-radius: 10px;
  padding: 12px 16px; box-shadow: var(--shadow);
  display: flex; flex-direction: column;
}
.stat .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; letter-spacing: -0.01em; }
.stat .label { font-size: 12px; color: var(--muted); }
.stat.alert .value { color: var(--bad); }

.panel {
  background: var(--panel); border: 1px solid var(--border); border-radius: 10px;
  box-shadow: var(--shadow); margin-bottom: 20px; overflow: hidden;
}
.panel h2 {
  margin: 0; padding: 12px 16px; font-size: 13px; font-weight: 600;
  border-bottom: 1px solid var(--border);
}
.grid { width: 100%; border-collapse: collapse; }
.grid th {
  text-align: left; font-weight: 500; font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em;
  color: var(--faint); padding: 8px 16px; border-bottom: 1px solid var(--border);
}
.grid td { padding: 10px 16px; border-bottom: 1px solid var(--border); vertical-align: middle; }
.grid tbody tr:last-child td { border-bottom: 0; }
.grid tbody tr:hover td { background: var(--row); }
.grid .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { margin: 0; padding: 18px 16px; color: var(--muted); }
[hidden] { display: none !important; }

.client .name { font-weight: 550; }
.client .id { display: block; color: var(--faint); font-family: var(--mono); font-size: 11.5px; }
.file { display: flex; align-items: center; gap: 8px; max-width: 320px; }
.file .path { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: var(--mono); font-size: 12.5px; }
.dir {
  flex: none; font-size: 11px; font-weight: 600; width: 20px; height: 20px; border-radius: 5px;
  display: inline-flex; align-items: center; justify-content: center;
  background: var(--accent-soft); color: var(--accent);
}
.progress-col { width: 26%; }
.meter { height: 6px; border-radius: 3px; background: var(--track); overflow: hidden; }
.meter .fill { height: 100%; width: 0; background: var(--accent); border-radius: 3px; transition: width 0.3s ease; }
.meter-text { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); margin-top: 5px; font-variant-numeric: tabular-nums; }
.meter-text .pct { color: var(--text); font-weight: 550; }

.spark { display: block; width: 132px; height: 30px; }
.spark .area { fill: var(--accent-soft); stroke: none; }
.spark .line { fill: none; stroke: var(--accent); stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; vector-effect: non-scaling-stroke; }
.spark .base { stroke: var(--border); stroke-width: 1; vector-effect: non-scaling-stroke; }

.badge {
  display: inline-flex; align-items: center; gap: 5px; white-space: nowrap;
  font-size: 12px; font-weight: 550; padding: 2px 8px; border-radius: 999px;
}
.badge.active { background: var(--accent-soft); color: var(--accent); }
.badge.starting, .badge.idle { background: var(--warn-soft); color: var(--warn); }
.badge.finished { background: var(--ok-soft); color: var(--ok); }
.badge.failed { background: var(--bad-soft); color: var(--bad); }
.badge.interrupted { background: var(--warn-soft); color: var(--warn); }
.badge.resumed { background: var(--accent-soft); color: var(--accent); margin-left: 6px; }
.badge.delta { background: var(--accent-soft); color: var(--accent); margin-left: 6px; }
.badge.removed, .badge.attributes { background: var(--track); color: var(--muted); }
tr[data-outcome="removed"] .path { text-decoration: line-through; color: var(--muted); }
.status[data-state="expired"] .dot { background: var(--warn); }
.banner { margin: 0 0 20px; padding: 14px 16px; border-radius: 10px; background: var(--warn-soft); color: var(--warn); }
.banner code, .hint code { user-select: all; }
.hint { color: var(--muted); font-size: 12px; }
.badge.active::before { content: ""; width: 6px; height: 6px; border-radius: 50%; background: currentColor; animation: pulse 1.6s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: 0.3; } }
@media (prefers-reduced-motion: reduce) { .badge.active::before { animation: none; } .meter .fill { transition: none; } }
.digest { font-family: var(--mono); font-size: 12px; color: var(--muted); }
.when { color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.perm { display: inline-block; font-size: 11.5px; padding: 1px 7px; margin-right: 4px; border-radius: 4px; background: var(--track); color: var(--muted); }
.muted { color: var(--faint); }

footer { max-width: 1280px; margin: 0 auto; padding: 4px 32px 28px; font-size: 12px; color: var(--faint); }

@media (max-width: 900px) {
  .top, main, footer { padding-left: 16px; padding-right: 16px; }
  .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid th:nth-child(6), .grid td:nth-child(6) { display: none; }
}
`;
