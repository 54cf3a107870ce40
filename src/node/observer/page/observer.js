// The observer page: reads the node's /observer/stream (server-sent events, read with
// fetch so that the admin token can go in a header) and draws one card per node of the
// cluster: its supervision trees (pid, status, restarts, mailbox length, messages per
// second of each listener), its recent crashes and its kernel events. The fault buttons
// come from the stream's `hello` (data, see src/node/observer/faults.ts): on the serving
// node's processes every kind, on other nodes' the kinds that can go through the bus. The token comes from the URL fragment
// (#token=...) or the login field and is kept in sessionStorage, never in the URL.
'use strict';

const TOKEN_KEY = 'fife-observer-token';
const MAX_EVENTS = 50;
const state = { selfNode: undefined, faults: [], cards: new Map(), retryMs: 1000 };

const $ = (sel, root = document) => root.querySelector(sel);

function takeToken() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

function setStatus(text, kind) {
  const s = $('#status');
  s.textContent = text;
  s.dataset.state = kind;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

// ---- the stream -------------------------------------------------------------------

async function connect() {
  setStatus('connecting', 'connecting');
  let res;
  try {
    res = await fetch('/observer/stream', { headers: authHeaders(), cache: 'no-store' });
  } catch (err) {
    return retry(`no connection (${err.message})`);
  }
  if (res.status === 401) {
    $('#login').hidden = false;
    $('#login-error').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'wrong token' : '';
    setStatus('needs the admin token', 'error');
    return;
  }
  if (!res.ok || !res.body) return retry(`stream answered ${res.status}`);
  $('#login').hidden = true;
  setStatus('live', 'live');
  state.retryMs = 1000;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        handleBlock(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  } catch (err) {
    return retry(`stream broke (${err.message})`);
  }
  retry('stream ended');
}

function retry(why) {
  setStatus(`${why}; reconnecting`, 'error');
  setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10_000);
}

function handleBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length === 0) return; // a keep-alive comment
  const msg = JSON.parse(data.join('\n'));
  if (event === 'hello') {
    state.selfNode = msg.node;
    state.faults = msg.faults ?? [];
    $('#self').textContent = `served by ${msg.node}`;
  } else if (event === 'node') renderNode(msg);
  else if (event === 'gone') {
    state.cards.get(msg.node)?.root.remove();
    state.cards.delete(msg.node);
  }
}

// ---- faults -----------------------------------------------------------------------

// A fault on a process of the serving node goes to the admin API (`path`); on another
// node's process, through the serving node's observer (`remote`).
async function inject(fault, proc, node, isRoot) {
  const how = node === state.selfNode ? fault : fault.remote;
  const fill = (v) =>
    typeof v !== 'string'
      ? v
      : v
          .replaceAll('{pid}', proc.pid ?? '')
          .replaceAll('{name}', proc.name ?? '')
          .replaceAll('{node}', node);
  const body = Object.fromEntries(Object.entries(how.body).map(([k, v]) => [k, fill(v)]));
  if (fault.confirm && !confirm(fault.confirm)) return;
  if (isRoot && !confirm(`${fault.kind} the kernel root of ${node}? The node halts.`)) return;
  try {
    const res = await fetch(how.path, {
      method: how.method,
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify(body),
    });
    if (!res.ok)
      setStatus(
        `${fault.kind} ${proc.pid ?? node}: ${res.status} ${(await res.json()).error ?? ''}`,
        'error',
      );
  } catch (err) {
    setStatus(`${fault.kind} ${proc.pid ?? node} failed: ${err.message}`, 'error');
  }
}

// ---- drawing ----------------------------------------------------------------------

function cardFor(node) {
  let card = state.cards.get(node);
  if (card) return card;
  const root = $('#node-card').content.firstElementChild.cloneNode(true);
  root.dataset.node = node;
  $('.node-name', root).textContent = node;
  card = { root, events: [] };
  state.cards.set(node, card);
  const all = [...state.cards.keys()].sort();
  const next = all[all.indexOf(node) + 1];
  $('#nodes').insertBefore(root, next ? state.cards.get(next).root : null);
  return card;
}

function procRow(n, u, local, isRoot = false) {
  const li = el('li');
  const row = el('div', 'proc');
  row.dataset.proc = n.id ?? n.name ?? n.behaviour ?? '?';
  row.dataset.status = n.status;
  if (n.pid) row.dataset.pid = n.pid;
  row.append(el('span', 'label', row.dataset.proc));
  row.append(el('span', 'pid', n.pid ?? '-'));
  row.append(
    el(
      'span',
      'kind',
      n.type === 'supervisor' ? `supervisor(${n.strategy ?? '?'})` : (n.behaviour ?? 'worker'),
    ),
  );
  if (n.status !== 'running') row.append(el('span', 'status', n.status));
  const restarts = el('span', 'restarts', n.restarts);
  restarts.dataset.count = String(n.restarts);
  restarts.title = 'restarts';
  row.append(restarts);
  const queued = n.pid ? u.mailboxes[n.pid] : undefined;
  if (queued) row.append(el('span', 'mailbox', `mailbox ${queued}`));
  if (n.pid && u.rates[n.pid] !== undefined) row.append(el('span', 'rate', `${u.rates[n.pid]} msg/s`));
  if (n.unexpectedMessages) row.append(el('span', 'unexpected', `unexpected ${n.unexpectedMessages}`));
  if (n.pid) {
    for (const f of state.faults.filter((f) => !f.scope && (local || f.remote))) {
      const b = el('button', undefined, f.label);
      b.type = 'button';
      b.title = f.title;
      b.dataset.fault = f.kind;
      b.addEventListener('click', () => inject(f, n, u.node, isRoot));
      row.append(b);
    }
  }
  li.append(row);
  if (n.children?.length) {
    const ul = el('ul');
    for (const c of n.children) ul.append(procRow(c, u, local));
    if (n.omitted) ul.append(el('li', 'omitted', `... ${n.omitted} more`));
    li.append(ul);
  }
  return li;
}

function renderNode(u) {
  const card = cardFor(u.node);
  const local = u.node === state.selfNode;
  $('.node-meta', card.root).textContent =
    `${u.tree.processes} processes, update ${u.seq} at ${new Date(u.at).toLocaleTimeString()}${local ? ' (this node)' : ''}`;
  const nodeFaults = $('.node-faults', card.root);
  if (local && nodeFaults.childElementCount === 0)
    for (const f of state.faults.filter((f) => f.scope === 'node')) {
      const b = el('button', undefined, f.label);
      b.type = 'button';
      b.title = f.title;
      b.dataset.fault = f.kind;
      b.addEventListener('click', () => inject(f, {}, u.node, false));
      nodeFaults.append(b);
    }
  const tree = el('ul');
  if (u.tree.kernel) tree.append(procRow(u.tree.kernel, u, local, true));
  for (const a of u.tree.apps) {
    tree.append(
      el(
        'li',
        'app-line',
        `app ${a.name}  ${a.state}  restarts ${a.restarts}${a.lastFailure ? `  last failure: ${a.lastFailure}` : ''}`,
      ),
    );
    if (a.tree) tree.append(procRow(a.tree, u, local));
  }
  $('.tree', card.root).replaceChildren(tree);

  $('.crashes', card.root).replaceChildren(
    ...u.crashes
      .slice()
      .reverse()
      .map((c) =>
        el('li', undefined, `${new Date(c.at).toLocaleTimeString()} ${c.name ?? ''} ${c.pid}: ${c.reason}`),
      ),
  );
  card.events = [...u.events.slice().reverse(), ...card.events].slice(0, MAX_EVENTS);
  const lines = card.events.map((e) =>
    el(
      'li',
      undefined,
      `${new Date(e.at).toLocaleTimeString()} ${e.kind} ${e.child ?? e.name ?? e.app ?? ''} ${e.pid ?? ''} ${e.reason ?? ''}`,
    ),
  );
  if (u.droppedEvents)
    lines.unshift(el('li', 'dropped', `(${u.droppedEvents} events not sent: too many at once)`));
  $('.events', card.root).replaceChildren(...lines);
}

// ---- start ------------------------------------------------------------------------

$('#login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value);
  $('#token').value = '';
  void connect();
});
takeToken();
void connect();
