/**
 * The dashboard's browser script, served as its own route so the CSP needs no inline code. It follows
 * `/events` and redraws from each snapshot. Every value from the server (client names, file paths are
 * chosen by clients) reaches the page through `textContent` or SVG attributes, never as markup.
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token') || '';
  var SVG = 'http://www.w3.org/2000/svg';
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var last = null;
  var clockSkew = 0;

  function $(id) { return document.getElementById(id); }

  function bytes(n) {
    if (!(n >= 1024)) return Math.max(0, Math.round(n || 0)) + ' B';
    var u = 0;
    while (n >= 1024 && u < UNITS.length - 1) { n /= 1024; u++; }
    return (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + ' ' + UNITS[u];
  }
  function rate(n) { return n > 0 ? bytes(n) + '/s' : '–'; }
  function duration(ms) {
    if (!(ms >= 0)) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(Math.round(s % 60)).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }
  function eta(seconds) {
    if (seconds === undefined || seconds === null || !isFinite(seconds)) return '–';
    if (seconds < 1) return '<1 s';
    if (seconds < 60) return Math.round(seconds) + ' s';
    return duration(seconds * 1000);
  }
  function ago(time) {
    var s = Math.max(0, (Date.now() - clockSkew - time) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return Math.floor(s) + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return new Date(time).toLocaleString();
  }
  function percent(done, size) { return size > 0 ? Math.min(100, Math.floor((done / size) * 100)) : 100; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function td(className, child) {
    var cell = el('td', className);
    if (typeof child === 'string') cell.textContent = child;
    else if (child) cell.appendChild(child);
    return cell;
  }
  function clientCell(name, peerId) {
    var box = el('div', 'client');
    box.appendChild(el('span', 'name', name));
    if (peerId && peerId !== name) box.appendChild(el('span', 'id', peerId));
    return box;
  }
  function fileCell(direction, path) {
    var box = el('div', 'file');
    var arrow = el('span', 'dir', direction === 'upload' ? '↑' : '↓');
    arrow.title = direction === 'upload' ? 'upload to this server' : 'download from this server';
    box.appendChild(arrow);
    var name = el('span', 'path', path);
    name.title = path;
    box.appendChild(name);
    return box;
  }
  function badge(kind, text) { return el('span', 'badge ' + kind, text); }

  function sparkline(samples) {
    var w = 120, h = 28, pad = 2;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    var base = document.createElementNS(SVG, 'line');
    base.setAttribute('class', 'base');
    base.setAttribute('x1', '0'); base.setAttribute('x2', String(w));
    base.setAttribute('y1', String(h - 0.5)); base.setAttribute('y2', String(h - 0.5));
    svg.appendChild(base);
    var points = samples.slice(-40);
    if (points.length < 2) {
      svg.setAttribute('aria-label', 'throughput: not enough samples yet');
      return svg;
    }
    var max = Math.max.apply(null, points.concat([1]));
    var step = w / (points.length - 1);
    var coords = points.map(function (v, i) {
      return (i * step).toFixed(1) + ',' + (h - pad - (Math.max(0, v) / max) * (h - 2 * pad)).toFixed(1);
    });
    var area = document.createElementNS(SVG, 'path');
    area.setAttribute('class', 'area');
    area.setAttribute('d', 'M0,' + h + ' L' + coords.join(' L') + ' L' + w + ',' + h + ' Z');
    svg.appendChild(area);
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('class', 'line');
    line.setAttribute('points', coords.join(' '));
    svg.appendChild(line);
    svg.setAttribute('aria-label', 'throughput, peak ' + rate(max));
    return svg;
  }

  function meter(done, size) {
    var box = el('div');
    var track = el('div', 'meter');
    var fill = el('div', 'fill');
    fill.style.width = percent(done, size) + '%';
    track.appendChild(fill);
    box.appendChild(track);
    var text = el('div', 'meter-text');
    text.appendChild(el('span', 'amount', bytes(done) + ' of ' + bytes(size)));
    text.appendChild(el('span', 'pct', percent(done, size) + '%'));
    box.appendChild(text);
    return box;
  }

  function resumedBadge(from) {
    var b = badge('resumed', '↻ resumed');
    b.title = 'resumed from ' + bytes(from) + ' already verified';
    return b;
  }

  function deltaBadge() {
    var b = badge('delta', 'Δ delta');
    b.title = 'only what changed crossed the network; the rest came from the old file';
    return b;
  }

  /** The file cell with what the transfer built on: an earlier attempt (resumed) or the old file (delta). */
  function fileWithBadges(t) {
    var file = fileCell(t.direction, t.path);
    if (t.delta) file.appendChild(deltaBadge());
    else if (t.resumedFromBytes > 0) file.appendChild(resumedBadge(t.resumedFromBytes));
    return file;
  }

  var REMOVED_TEXT = { file: '− removed', dir: '− directory removed', link: '− link removed' };

  function octal(mode) { return '0' + (mode & 4095).toString(8).padStart(3, '0'); }

  /** A sync's change without data: an entry removed (--delete), or only a file's mode and mtime set. */
  function changeBadge(c) {
    if (c.kind === 'removed') {
      var removed = badge('removed', REMOVED_TEXT[c.entry] || '− removed');
      removed.title = 'the client\'s sync removed it: its source no longer holds it (--delete)';
      return removed;
    }
    var set = badge('attributes', '✎ mode ' + octal(c.mode) + ' · mtime');
    set.title = 'only the mode and mtime changed: set to mode ' + octal(c.mode) + ', mtime ' +
      new Date(c.mtimeMs).toLocaleString() + '; no file data crossed';
    return set;
  }

  function resultBadge(t) {
    if (t.change) return changeBadge(t.change);
    if (t.outcome === 'finished') return badge('finished', t.identical ? '✓ identical' : '✓ verified');
    if (t.outcome === 'interrupted') {
      var b = badge('interrupted', '‖ interrupted · ' + bytes(t.heldBytes) + ' held');
      b.title = t.code + ': the verified part is kept; the same command resumes it';
      return b;
    }
    return badge('failed', '✗ ' + t.code);
  }

  var STATE_TEXT = { starting: 'starting', active: 'transferring', idle: 'waiting' };

  function renderLive(rows) {
    var body = $('live').tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (t) {
      var tr = el('tr');
      tr.dataset.transferId = t.id;
      tr.dataset.state = t.state;
      tr.dataset.verified = String(t.verifiedBytes);
      tr.dataset.resumedFrom = String(t.resumedFromBytes);
      tr.dataset.delta = String(t.delta);
      tr.appendChild(td('', clientCell(t.client, t.peerId)));
      tr.appendChild(td('', fileWithBadges(t)));
      tr.appendChild(td('progress-col', meter(t.verifiedBytes, t.size)));
      tr.appendChild(td('num', rate(t.bytesPerSecond)));
      tr.appendChild(td('num', eta(t.etaSeconds)));
      tr.appendChild(td('', sparkline(t.samples)));
      tr.appendChild(td('', badge(t.state, STATE_TEXT[t.state] || t.state)));
      return tr;
    }));
    $('live').hidden = rows.length === 0;
    $('live-empty').hidden = rows.length > 0;
  }

  function renderRecent(rows) {
    var body = $('recent').tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (t) {
      var tr = el('tr');
      tr.dataset.transferId = t.id;
      tr.dataset.outcome = t.outcome;
      tr.dataset.code = t.code || '';
      var when = el('span', 'when', ago(t.endedAt));
      when.title = new Date(t.endedAt).toLocaleString();
      tr.appendChild(td('', when));
      tr.dataset.delta = String(t.delta);
      tr.appendChild(td('', clientCell(t.client, t.peerId)));
      tr.appendChild(td('', fileWithBadges(t)));
      tr.appendChild(td('num', t.change ? '–' : bytes(t.size)));
      tr.appendChild(td('', resultBadge(t)));
      var digest = el('span', 'digest', t.digest ? t.digest.slice(0, 16) + '…' : '–');
      if (t.digest) { digest.title = t.digest; digest.dataset.digest = t.digest; }
      tr.appendChild(td('', digest));
      tr.appendChild(td('num', t.change ? '–' : duration(t.durationMs)));
      tr.appendChild(td('num', rate(t.bytesPerSecond)));
      return tr;
    }));
    $('recent').hidden = rows.length === 0;
    $('recent-empty').hidden = rows.length > 0;
  }

  function renderClients(rows) {
    var body = $('clients').tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (c) {
      var tr = el('tr');
      tr.appendChild(td('', c.name ? el('span', 'client', c.name) : el('span', 'muted', 'unnamed')));
      var id = el('code', '', c.id);
      tr.appendChild(td('', id));
      var perms = el('span');
      c.permissions.forEach(function (p) { perms.appendChild(el('span', 'perm', p)); });
      tr.appendChild(td('', perms));
      tr.appendChild(td('', c.root ? el('code', '', c.root + '/') : el('span', 'muted', 'whole root')));
      return tr;
    }));
    $('clients').hidden = rows.length === 0;
    $('clients-empty').hidden = rows.length > 0;
  }

  function renderInvites(rows) {
    var body = $('invites').tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (i) {
      var tr = el('tr');
      tr.dataset.invite = i.id;
      tr.appendChild(td('', el('code', '', i.id + '-…')));
      tr.appendChild(td('', i.name ? el('span', 'client', i.name) : el('span', 'muted', 'unnamed')));
      var perms = el('span');
      i.permissions.forEach(function (p) { perms.appendChild(el('span', 'perm', p)); });
      tr.appendChild(td('', perms));
      var until = Date.parse(i.expiresAt) - (Date.now() - clockSkew);
      var when = el('span', 'when', until > 0 ? 'in ' + duration(until) : 'expired');
      when.title = i.expiresAt;
      tr.appendChild(td('', when));
      return tr;
    }));
    $('invites').hidden = rows.length === 0;
    $('invites-empty').hidden = rows.length > 0;
  }

  function renderRefused(rows) {
    var body = $('refused').tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (r) {
      var tr = el('tr');
      tr.dataset.code = r.code;
      var when = el('span', 'when', ago(r.time));
      when.title = new Date(r.time).toLocaleString();
      tr.appendChild(td('', when));
      tr.appendChild(td('', el('code', '', r.address)));
      tr.appendChild(td('', r.clientId ? el('code', 'client-id', r.clientId) : el('span', 'muted', 'unknown (no key shown)')));
      tr.appendChild(td('', badge('failed', r.code)));
      // A client checks the server's key before it shows its own (PROTOCOL.md §3.2.1): one that hangs up
      // before that most likely refused this server's key, new (a fresh npm start) or changed.
      // A failed pairing is a code that was wrong, expired or used (and a wrong one voids its invite): the
      // client needs a new one, which only the operator can make.
      tr.appendChild(td('', r.clientId && r.code === 'CLIENT_NOT_ALLOWED'
        ? el('code', 'admit', adminCommand() + ' allow ' + r.clientId + ' --name NAME')
        : !r.clientId && r.code === 'CONNECTION_CLOSED'
          ? el('span', 'muted hung-up', 'it hung up before showing its key: does it trust this server\'s key?')
          : r.code === 'PAIRING_FAILED'
            ? el('code', 'admit', adminCommand() + ' invite --name NAME')
            : el('span', 'muted', '–')));
      return tr;
    }));
    $('refused').hidden = rows.length === 0;
    $('refused-empty').hidden = rows.length > 0;
  }

  /** How the operator runs ferry for this server: with its --home, so a copied hint reaches it. */
  function adminCommand() {
    return last && last.server.adminCommand ? last.server.adminCommand : 'ferry';
  }

  function render(s) {
    last = s;
    Array.prototype.forEach.call(document.querySelectorAll('.admin-command'), function (span) {
      span.textContent = adminCommand();
    });
    clockSkew = Date.now() - s.now;
    $('server-id').textContent = s.server.id;
    $('server-address').textContent = s.server.address;
    $('server-uptime').textContent = duration(s.now - s.server.startedAt);
    $('stat-live').textContent = String(s.live.length);
    $('stat-sessions').textContent = String(s.sessions.open);
    $('stat-finished').textContent = String(s.totals.finished);
    $('stat-failed').textContent = String(s.totals.failed);
    $('stat-failed-card').classList.toggle('alert', s.totals.failed > 0);
    $('stat-bytes').textContent = bytes(s.totals.bytes);
    renderLive(s.live);
    renderRecent(s.recent);
    renderClients(s.clients);
    renderInvites(s.invites);
    renderRefused(s.refused);
    $('server-root').textContent = s.storage ? s.storage.root : '–';
    $('server-free').textContent = s.storage && s.storage.freeBytes !== undefined ? bytes(s.storage.freeBytes) : '–';
    document.title = (s.live.length > 0 ? '(' + s.live.length + ') ' : '') + 'ferry dashboard';
  }

  function setConnection(state, text) {
    $('connection').dataset.state = state;
    $('connection-text').textContent = text;
  }

  function connect() {
    var source = new EventSource('/events?token=' + encodeURIComponent(token));
    source.addEventListener('snapshot', function (event) {
      setConnection('live', 'live');
      render(JSON.parse(event.data));
    });
    source.onerror = function () {
      setConnection('offline', 'reconnecting…');
      // EventSource retries for ever, also when the token is no longer valid (the server restarted with a
      // new one): ask once, and on 401 stop and say what to do instead.
      fetch('/snapshot.json?token=' + encodeURIComponent(token), { cache: 'no-store' }).then(function (res) {
        if (res.status !== 401) return;
        source.close();
        setConnection('expired', 'link expired');
        $('expired').hidden = false;
      }, function () { /* the server is down: keep reconnecting */ });
    };
  }

  // "2 s ago" and the uptime keep moving between updates.
  setInterval(function () {
    if (!last) return;
    $('server-uptime').textContent = duration(Date.now() - clockSkew - last.server.startedAt);
    renderRecent(last.recent);
  }, 5000);

  connect();
})();
`;
