// The client side of bench/subscriptions/run.sh: opens the subscribers, makes the changes one
// at a time, prints change -> delivered percentiles, then the LISTEN/NOTIFY floor.
//   node subscribers.mjs <graphql url> <database url> <subscribers> <changes>
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const root = new URL('../../', import.meta.url);
const fromTests = createRequire(new URL('tests/js/package.json', root));
const fromBench = createRequire(new URL('bench/graphql_api/package.json', root));
const { createClient } = await import(pathToFileURL(fromTests.resolve('graphql-ws')));
const { default: WebSocket } = await import(pathToFileURL(fromTests.resolve('ws')));
const pg = fromBench('pg');

// PSVC_BENCH_CLIENT_THREADS=N (raw clients only): the subscribers are spread over N worker
// threads of this process, so that parsing 1,000 messages per change is not one thread's queue.
if (!isMainThread) {
  const { wsUrl, query, anime, first, count } = workerData;
  const sockets = [];
  let pending = [];
  const flush = () => { parentPort.postMessage(pending); pending = []; };
  for (let i = first; i < first + count; i++) {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init' }));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { ids: [anime] } } }));
    });
    ws.on('message', (data) => {
      const t = Number(process.hrtime.bigint()) / 1e6;
      const m = JSON.parse(data);
      if (m.type !== 'next') return;
      if (pending.length === 0) setImmediate(flush);
      pending.push([m.payload.data.animeChanged.version, t]);
    });
    sockets.push(ws);
  }
  parentPort.on('message', () => { for (const ws of sockets) ws.close(); parentPort.close(); });
} else {
const [url, dbUrl, subsArg, changesArg] = process.argv.slice(2);
const SUBS = Number(subsArg);
const CHANGES = Number(changesArg);
const SHARED = process.env.PSVC_BENCH_SHARED !== '0';
// mutation: updateAnime through serve (the change feed included); post: graphql_test_server's
// POST /test/change hands the change to the subscription hub (fan-out only).
const TRIGGER = process.env.PSVC_BENCH_TRIGGER || 'mutation';
const ANIME = process.env.PSVC_BENCH_ANIME || '00000000-0000-4000-8000-000000000001';
const wsUrl = url.replace(/^http/, 'ws');
const now = () => Number(process.hrtime.bigint()) / 1e6;

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function report(label, samples) {
  const s = [...samples].sort((a, b) => a - b);
  console.log(`${label}: n=${s.length} p50=${pct(s, 50).toFixed(1)} ms p90=${pct(s, 90).toFixed(1)} ms ` +
    `p99=${pct(s, 99).toFixed(1)} ms max=${s[s.length - 1].toFixed(1)} ms`);
}

// version -> time the change was sent; each subscriber records its arrival per version.
const sentAt = new Map();
const latencies = [];
let received = 0;
const clients = [];
let ready = 0;
// graphql-ws clients by default; PSVC_BENCH_CLIENT=raw speaks the protocol over bare `ws`
// sockets (JSON.parse only), so that the measuring process's own cost per message is smaller.
const RAW = process.env.PSVC_BENCH_CLIENT === 'raw';
const THREADS = Number(process.env.PSVC_BENCH_CLIENT_THREADS || 1);
if (THREADS > 1 && (!RAW || !SHARED)) throw new Error('PSVC_BENCH_CLIENT_THREADS needs PSVC_BENCH_CLIENT=raw and the shared document');
for (let t = 0; THREADS > 1 && t < THREADS; t++) {
  const first = Math.floor((t * SUBS) / THREADS);
  const count = Math.floor(((t + 1) * SUBS) / THREADS) - first;
  const query = 'subscription Watch($ids: [ID!]!) { animeChanged(ids: $ids) { version anime { title year } } }';
  const w = new Worker(new URL(import.meta.url), { workerData: { wsUrl, query, anime: ANIME, first, count } });
  w.on('message', (arrivals) => {
    for (const [v, at] of arrivals) {
      if (sentAt.has(v)) latencies.push(at - sentAt.get(v));
      received++;
    }
  });
  clients.push({ dispose: () => new Promise((done) => { w.once('exit', done); w.postMessage('close'); }) });
}
for (let i = 0; THREADS <= 1 && i < SUBS; i++) {
  // Shared: one document for all; otherwise a distinct operation name per subscriber.
  const name = SHARED ? 'Watch' : `Watch${i}`;
  const query = `subscription ${name}($ids: [ID!]!) { animeChanged(ids: $ids) { version anime { title year } } }`;
  const onResult = (r) => {
    const t = now();
    const v = r.data.animeChanged.version;
    if (sentAt.has(v)) latencies.push(t - sentAt.get(v));
    received++;
  };
  if (RAW) {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init' }));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { ids: [ANIME] } } }));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'next') onResult(m.payload);
    });
    clients.push({ dispose: () => ws.close() });
    continue;
  }
  const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => {} });
  clients.push(c);
  c.subscribe({ query, variables: { ids: [ANIME] } }, {
    next: onResult,
    error: (e) => console.error('subscription error', e),
    complete: () => {},
  });
}
// Wait until every subscription is registered: serve counts them in /metrics; the test
// server has no metrics, so a warm-up change is posted until every subscriber got one.
const metricsUrl = url.replace(/\/graphql$/, '/metrics');
const warmUrl = url.replace(/\/graphql$/, '/test/change');
for (let t = 0; ; t++) {
  if (TRIGGER === 'post') {
    const before = received;
    await fetch(warmUrl, { method: 'POST', body: JSON.stringify({ anime_id: ANIME, event_type: 'AnimeUpdated', payload: '{"version":-1}' }) });
    await new Promise((r) => setTimeout(r, 200));
    if (received - before >= SUBS) break;
  } else {
    const text = await (await fetch(metricsUrl)).text();
    const m = text.match(/^psvc_graphql_subscriptions (\d+)/m);
    if (m && Number(m[1]) >= SUBS) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (t > 1200) throw new Error(`subscriptions not registered after 60 s`);
}
received = 0;
latencies.length = 0;
console.log(`${SUBS} subscriptions registered (${SHARED ? 'one shared document' : 'a document each'}, ${RAW ? 'raw ws' : 'graphql-ws'} clients${THREADS > 1 ? ` on ${THREADS} threads` : ''})`);

async function gql(query, variables) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }) });
  return r.json();
}
let version = (await gql('query($id: ID!) { anime(id: $id) { version } }', { id: ANIME })).data.anime.version;
const changeUrl = url.replace(/\/graphql$/, '/test/change');
for (let i = 0; i < CHANGES; i++) {
  sentAt.set(version + 1, now());
  if (TRIGGER === 'post') {
    const r = await fetch(changeUrl, { method: 'POST', body: JSON.stringify({ anime_id: ANIME,
      event_type: 'AnimeUpdated', payload: JSON.stringify({ version: version + 1, fields: ['title'] }) }) });
    if (r.status !== 204) throw new Error(`POST /test/change: ${r.status}`);
    version += 1;
  } else {
    const r = await gql(`mutation($id: ID!, $v: Int!, $t: String!) {
        updateAnime(id: $id, input: {title: $t}, expectedVersion: $v) { version } }`,
    { id: ANIME, v: version, t: `Bench Show 1 #${i}` });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    version = r.data.updateAnime.version;
  }
  // Let every subscriber have it before the next change (then latencies do not queue).
  const want = (i + 1) * SUBS;
  const deadline = now() + 10000;
  while (received < want && now() < deadline) await new Promise((r) => setTimeout(r, 1));
}
report(`subscriptions, change sent -> delivered (${SUBS} subscribers x ${CHANGES} changes)`, latencies);
console.log(`delivered ${received} of ${SUBS * CHANGES}`);
await Promise.all(clients.map((c) => c.dispose()));

// The floor: NOTIFY in the writing transaction, LISTEN connections receiving it.
const LISTENERS = Number(process.env.PSVC_BENCH_LISTENERS || 20);
const listeners = [];
const notifyLatencies = [];
let got = 0;
const sent = new Map();
for (let i = 0; i < LISTENERS; i++) {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  await c.query('LISTEN psvc_bench');
  c.on('notification', (n) => { got++; notifyLatencies.push(now() - sent.get(Number(n.payload))); });
  listeners.push(c);
}
const writer = new pg.Client({ connectionString: dbUrl });
await writer.connect();
await writer.query('CREATE TEMP TABLE bench_row (id int PRIMARY KEY, title text, version int)');
await writer.query("INSERT INTO bench_row VALUES (1, '', 0)");
for (let i = 0; i < CHANGES; i++) {
  sent.set(i, now());
  await writer.query('BEGIN');
  await writer.query('UPDATE bench_row SET title = $1, version = version + 1 WHERE id = 1', [`n${i}`]);
  await writer.query(`SELECT pg_notify('psvc_bench', '${i}')`);
  await writer.query('COMMIT');
  const want = (i + 1) * LISTENERS;
  const deadline = now() + 10000;
  while (got < want && now() < deadline) await new Promise((r) => setTimeout(r, 1));
}
report(`LISTEN/NOTIFY floor, update sent -> notified (${LISTENERS} LISTEN connections x ${CHANGES} changes)`, notifyLatencies);
await writer.end();
await Promise.all(listeners.map((c) => c.end()));
}
