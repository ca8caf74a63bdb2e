/**
 * The dashboard's HTML: a static skeleton the script fills in. No inline script or style (the CSP forbids
 * them); the token travels in the asset URLs because the page itself was only served to its holder.
 */
export function dashboardPage(token: string): string {
  // The token is checked to be URL-safe base64 when the dashboard starts: nothing here needs escaping.
  const q = `?token=${encodeURIComponent(token)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>ferry dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard.css${q}">
<script src="/dashboard.js${q}" defer></script>
</head>
<body>
<header class="top">
  <div class="brand"><span class="mark" aria-hidden="true"></span>ferry<span class="sub">server dashboard</span></div>
  <dl class="server">
    <div><dt>Server ID</dt><dd><code id="server-id">…</code></dd></div>
    <div><dt>Listening on</dt><dd><code id="server-address">…</code></dd></div>
    <div><dt>Up for</dt><dd id="server-uptime">…</dd></div>
    <div><dt>Root</dt><dd><code id="server-root">…</code></dd></div>
    <div><dt>Free disk</dt><dd id="server-free">…</dd></div>
  </dl>
  <div id="connection" class="status" data-state="connecting"><span class="dot"></span><span id="connection-text">connecting</span></div>
</header>
<main>
  <p class="banner" id="expired" hidden>This page's link no longer works: the server restarted (each start prints a new
    dashboard URL with a new token) or was stopped. Open the <code>dashboard:</code> URL printed by the latest
    <code>ferry serve</code>; this page will not update again.</p>
  <section class="stats" aria-label="Totals">
    <div class="stat"><span class="value" id="stat-live">0</span><span class="label">live transfers</span></div>
    <div class="stat"><span class="value" id="stat-sessions">0</span><span class="label">open sessions</span></div>
    <div class="stat"><span class="value" id="stat-finished">0</span><span class="label">verified</span></div>
    <div class="stat" id="stat-failed-card"><span class="value" id="stat-failed">0</span><span class="label">failed</span></div>
    <div class="stat"><span class="value" id="stat-bytes">0 B</span><span class="label">transferred</span></div>
  </section>

  <section class="panel" aria-labelledby="live-title">
    <h2 id="live-title">Live transfers</h2>
    <table id="live" class="grid">
      <thead><tr><th>Client</th><th>File</th><th class="progress-col">Verified</th><th class="num">Speed</th><th class="num">ETA</th><th>Throughput</th><th>State</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty" id="live-empty" hidden>Nothing in flight. Transfers appear here the moment a client starts one.</p>
  </section>

  <section class="panel" aria-labelledby="recent-title">
    <h2 id="recent-title">Recent transfers and changes</h2>
    <table id="recent" class="grid">
      <thead><tr><th>When</th><th>Client</th><th>File</th><th class="num">Size</th><th>Result</th><th>Digest</th><th class="num">Took</th><th class="num">Avg speed</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty" id="recent-empty" hidden>No finished or failed transfers yet; what a client's sync removes or only gives a new mode shows here too.</p>
  </section>

  <section class="panel" aria-labelledby="clients-title">
    <h2 id="clients-title">Authorised clients</h2>
    <table id="clients" class="grid">
      <thead><tr><th>Name</th><th>Client ID</th><th>May</th><th>Confined to</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty" id="clients-empty" hidden>No client is allowed yet: <code><span class="admin-command">ferry</span> invite --name NAME</code> prints a pairing code, or <code><span class="admin-command">ferry</span> allow CLIENT_ID --name NAME</code>.</p>
  </section>

  <section class="panel" aria-labelledby="invites-title">
    <h2 id="invites-title">Open invites</h2>
    <table id="invites" class="grid" hidden>
      <thead><tr><th>Invite</th><th>For</th><th>May</th><th>Expires</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty" id="invites-empty" hidden>No open invites. <code><span class="admin-command">ferry</span> invite --name NAME</code> prints a one-time pairing code (shown only there, never here).</p>
  </section>

  <section class="panel" aria-labelledby="refused-title">
    <h2 id="refused-title">Refused connections</h2>
    <table id="refused" class="grid" hidden>
      <thead><tr><th>When</th><th>From</th><th>Client ID</th><th>Why</th><th>To admit it</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty" id="refused-empty" hidden>No connection was refused.</p>
  </section>
</main>
<footer>Read-only view of this server. Updates stream live; nothing here can change the server.</footer>
</body>
</html>
`;
}
