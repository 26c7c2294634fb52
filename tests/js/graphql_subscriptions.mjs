// GraphQL subscriptions end to end with the graphql-ws client: real `serve` replicas on one
// fresh database, changes made through GraphQL mutations and page views, delivered after
// commit, in commit order, on every replica; auth, limits, a slow consumer, invalid documents,
// a message over the size limit, subscriptions over TLS (wss), SIGTERM.
//
//   node tests/js/graphql_subscriptions.mjs <postgres-service binary>
// Needs the local stack's environment (eval "$(scripts/stack env)").
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { importOrSkip } from './start_graphql_server.mjs';
import { dropDatabase } from './serve_process.mjs';

const { createClient } = await importOrSkip('graphql-ws');
const { default: WebSocket } = await importOrSkip('ws');

const binary = process.argv[2];
const admin = process.env.PSVC_ADMIN_DATABASE_URL;
if (!binary || !admin) {
  console.log('SKIP: needs the postgres-service binary and the stack environment');
  process.exit(77);
}

const TOKEN = 'subscriptions-js-token-0123456789';
// Demo data (src/dataset/demo_data.sql): Fullmetal Alchemist: Brotherhood and another anime.
const FMAB = 'de0a0000-0000-4000-8000-000000000003';
const OTHER = 'de0a0000-0000-4000-8000-000000000001';

const dbName = `psvc_test_subscriptions_js_${process.pid}`;
const ownerUrl = admin.replace(/\/[^/]*$/, `/${dbName}`);
const appUrl = ownerUrl.replace('psvc_owner@', 'psvc_app@');

function psql(url, sql) {
  return execFileSync('psql', [url, '-XAtqc', sql], {
    encoding: 'utf8',
    env: { ...process.env, PGOPTIONS: '-c client_min_messages=error' },
  }).trim();
}

// A serve process on free ports; resolves once it prints its addresses.
function startServe(args = []) {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PSVC_')));
    delete env.NATS_URL;
    delete env.DATABASE_URL;
    const child = spawn(binary, ['serve', '--database-url', appUrl, '--http-port', '0',
      '--grpc-address', '127.0.0.1:0', '--log-format', 'json', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/HTTP on (https?):\/\/([0-9.]+:[0-9]+)/);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        const [scheme, address] = [m[1], m[2]];
        resolve({
          http: `${scheme}://${address}/graphql`,
          ws: `${scheme === 'https' ? 'wss' : 'ws'}://${address}/graphql`,
          metrics: `${scheme}://${address}/metrics`,
          child,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => { out += c; });
    child.on('exit', (code) => reject(new Error(`serve exited early (${code}): ${out}`)));
  });
}

async function gql(server, query, variables = {}, token = '') {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(server.http, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return r.json();
}

// The test CA of the TLS replica (tests/tls/make_test_pki.sh).
let pki = '';
let testCa = null;

// GET over https trusting the test CA (fetch has no per-request CA).
function httpsGet(url) {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca: testCa }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

async function metric(server, name) {
  const text = server.metrics.startsWith('https:') ? await httpsGet(server.metrics)
    : await (await fetch(server.metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : NaN;
}

async function waitFor(check, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A graphql-ws client whose socket the test can reach (to stop reading from it).
function client(server, connectionParams = {}, extra = {}) {
  const sockets = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
    }
  }
  const closes = [];
  const c = createClient({
    url: server.ws,
    webSocketImpl: TrackedWebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    on: { closed: (e) => closes.push(e.code) },
    onNonLazyError: () => {},
    ...extra,
  });
  c.sockets = sockets;
  c.closes = closes;
  return c;
}

// Subscribes and collects results; `done` resolves on complete or error.
function collect(c, query, variables = {}) {
  const results = [];
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const unsubscribe = c.subscribe({ query, variables }, {
    next: (v) => results.push(v),
    error: (e) => resolveDone({ error: e }),
    complete: () => resolveDone({ complete: true }),
  });
  return { results, done, unsubscribe };
}

async function subscribed(server, n) {
  await waitFor(async () => (await metric(server, 'psvc_graphql_subscriptions')) >= n,
    `${n} subscriptions`);
}

async function version(server, id) {
  const r = await gql(server, 'query($id: ID!) { anime(id: $id) { version } }', { id });
  return r.data.anime.version;
}

async function updateTitle(server, id, title) {
  const v = await version(server, id);
  const r = await gql(server, `mutation($id: ID!, $t: String!, $v: Int!) {
      updateAnime(id: $id, input: {title: $t}, expectedVersion: $v) { version } }`,
  { id, t: title, v }, TOKEN);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data.updateAnime.version;
}

let a, b, guarded, secure;

before(async () => {
  dropDatabase(dbName);
  psql(admin, `CREATE DATABASE ${dbName}`);
  execFileSync(binary, ['migrate', '--database-url', ownerUrl], { stdio: 'ignore' });
  execFileSync(binary, ['demo-data', '--database-url', ownerUrl], { stdio: 'ignore' });
  // Two replicas of one catalogue; writes need the token, reads are open.
  a = await startServe(['--auth-tokens', TOKEN, '--view-flush-ms', '100']);
  b = await startServe(['--auth-tokens', TOKEN, '--ws-max-queued-bytes', '65536']);
  // Reads need a token too; tight limits.
  guarded = await startServe(['--auth-tokens', TOKEN, '--read-auth', '--ws-max-operations', '2',
    '--ws-init-timeout-ms', '500']);
  // HTTPS and wss on one port, with a throwaway PKI.
  pki = mkdtempSync(join(tmpdir(), 'psvc-subscriptions-pki-'));
  execFileSync('bash', [fileURLToPath(new URL('../tls/make_test_pki.sh', import.meta.url)), pki]);
  testCa = readFileSync(join(pki, 'ca.pem'));
  // Reads need a token or a client certificate of the test CA (mTLS).
  secure = await startServe(['--tls-cert', join(pki, 'server.pem'), '--tls-key', join(pki, 'server.key'),
    '--tls-client-ca', join(pki, 'ca.pem'), '--auth-tokens', TOKEN, '--read-auth']);
});

after(async () => {
  for (const s of [a, b, guarded, secure]) if (s) await s.stop();
  if (pki) rmSync(pki, { recursive: true, force: true });
  dropDatabase(dbName);
});

test('a mutation on one replica reaches subscribers on both, in commit order, with nested fields', async () => {
  const ca = client(a);
  const cb = client(b);
  const query = `subscription($ids: [ID!]!) { animeChanged(ids: $ids) {
      kind animeId version fields anime { id title studios { name } } } }`;
  const sa = collect(ca, query, { ids: [FMAB] });
  const sb = collect(cb, query, { ids: [FMAB] });
  await subscribed(a, 1);
  await subscribed(b, 1);
  const versions = [];
  for (let i = 0; i < 10; i++) versions.push(await updateTitle(a, FMAB, `Brotherhood take ${i}`));
  await updateTitle(a, OTHER, 'Not followed');  // another anime: not delivered
  for (const s of [sa, sb]) {
    await waitFor(() => s.results.length >= 10, '10 changes');
    const got = s.results.map((r) => r.data.animeChanged);
    assert.deepEqual(got.map((c) => c.version), versions, 'commit order per anime');
    for (const c of got) {
      assert.equal(c.kind, 'UPDATED');
      assert.equal(c.animeId, FMAB);
      assert.deepEqual(c.fields, ['title']);
      assert.equal(c.anime.id, FMAB);
      assert.ok(c.anime.studios.length > 0, 'nested fields resolve');
    }
    // The last event reads the anime at (or after) the last update.
    assert.equal(got[9].anime.title, 'Brotherhood take 9');
  }
  sa.unsubscribe();
  sb.unsubscribe();
  await waitFor(async () => (await metric(a, 'psvc_graphql_subscriptions')) === 0, 'complete');
  await ca.dispose();
  await cb.dispose();
});

test('catalogueChanged filters by kind; page views arrive as VIEWED', async () => {
  const c = client(b);
  const s = collect(c, `subscription { catalogueChanged(kinds: [VIEWED]) {
      kind animeId viewCount anime { viewCount } } }`);
  await subscribed(b, 1);
  await updateTitle(a, OTHER, 'Not a view');
  const r = await gql(a, 'mutation($id: ID!) { recordView(animeId: $id) { viewCount } }', { id: FMAB }, TOKEN);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  await waitFor(() => s.results.length >= 1, 'a VIEWED change');
  const change = s.results[0].data.catalogueChanged;
  assert.equal(change.kind, 'VIEWED');
  assert.equal(change.animeId, FMAB);
  assert.equal(change.viewCount, r.data.recordView.viewCount);
  s.unsubscribe();
  await c.dispose();
});

test('an invalid subscription gets an error message', async () => {
  const c = client(a);
  for (const [query, message] of [
    ['subscription { nope }', 'Cannot query field "nope" on type "Subscription".'],
    ['subscription { catalogueChanged { kind } animeChanged(ids: ["x"]) { kind } }',
      'Anonymous Subscription must select only one top level field.'],
    ['subscription { animeChanged(ids: ["not-a-uuid"]) { kind } }', "ids[0]: not a UUID: 'not-a-uuid'"],
  ]) {
    const s = collect(c, query);
    const end = await s.done;
    assert.ok(end.error, `${query}: expected an error`);
    assert.equal(end.error[0].message, message);
  }
  await c.dispose();
});

test('tokens: connection_init without one is closed 4403, with one it subscribes', async () => {
  const denied = client(guarded);
  await waitFor(() => denied.closes.length > 0, 'the close');
  assert.equal(denied.closes[0], 4403);
  await denied.dispose();

  const ok = client(guarded, { authorization: `Bearer ${TOKEN}` });
  const s = collect(ok, 'subscription { catalogueChanged { kind } }');
  await subscribed(guarded, 1);
  s.unsubscribe();
  await ok.dispose();
});

test('limits: operations per connection, the init timeout', async () => {
  const c = client(guarded, { authorization: `Bearer ${TOKEN}` });
  const subs = [1, 2, 3].map(() => collect(c, 'subscription { catalogueChanged { kind } }'));
  const third = await subs[2].done;
  assert.ok(third.error, 'the third subscription is refused');
  assert.match(third.error[0].message, /at most 2/);
  for (const s of subs) s.unsubscribe();
  await c.dispose();

  // A raw socket that never sends connection_init.
  const raw = new WebSocket(guarded.ws, 'graphql-transport-ws');
  const code = await new Promise((r) => raw.on('close', (c) => r(c)));
  assert.equal(code, 4408);
  // No graphql-transport-ws offered: accepted, then closed 4406.
  const bare = new WebSocket(guarded.ws);
  assert.equal(await new Promise((r) => bare.on('close', (c) => r(c))), 4406);
  assert.ok((await metric(guarded, 'psvc_graphql_ws_max_operations')) === 2);
});

test('a subscriber that stops reading is dropped; the others keep receiving', async () => {
  const slow = client(b);
  const fast = client(b);
  const heavy = `subscription($ids: [ID!]!) { animeChanged(ids: $ids) { version anime {
      title synopsis characters { role character { name nameJapanese } } } } }`;
  const slowSubs = [];
  for (let i = 0; i < 50; i++) slowSubs.push(collect(slow, heavy, { ids: [FMAB] }));
  const f = collect(fast, 'subscription($ids: [ID!]!) { animeChanged(ids: $ids) { version } }', { ids: [FMAB] });
  await subscribed(b, 51);
  slow.sockets[0]._socket.pause();  // the kernel buffers fill, then the server's queue
  let n = 0;
  await waitFor(async () => {
    for (let i = 0; i < 5; i++, n++) await updateTitle(a, FMAB, `Slow ${n}`);
    return (await metric(b, 'psvc_graphql_ws_slow_consumer_closes_total')) >= 1;
  }, 'the slow consumer to be dropped', 120000);
  slow.sockets[0]._socket.resume();
  await waitFor(() => slow.closes.length > 0, 'the slow client to see the close');
  assert.ok([1013, 1006].includes(slow.closes[0]), `closed with ${slow.closes[0]}`);
  await waitFor(() => f.results.length === n, 'every change on the fast subscriber');
  await waitFor(async () => (await metric(b, 'psvc_graphql_subscriptions')) === 1, 'only the fast one left');
  f.unsubscribe();
  await slow.dispose();
  await fast.dispose();
});

// Sends one text message on a fresh graphql-transport-ws socket; resolves with the first thing
// that comes back: { message } or { close: code }.
function exchangeOne(server, text) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.ws, 'graphql-transport-ws');
    ws.on('open', () => ws.send(text));
    ws.on('message', (m) => { resolve({ message: String(m) }); ws.close(); });
    ws.on('close', (code) => resolve({ close: code }));
    ws.on('error', reject);
  });
}

test('a client message over 1 MiB is closed with 1009, the server stays', async () => {
  // connection_init padded to exactly `size` bytes of JSON.
  const init = (size) => {
    const bare = JSON.stringify({ type: 'connection_init', payload: { pad: '' } });
    return JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(size - bare.length) } });
  };
  const MiB = 1 << 20;
  assert.equal(init(MiB).length, MiB);
  assert.deepEqual(await exchangeOne(b, init(MiB)), { message: '{"type":"connection_ack"}' });
  // RFC 6455 §7.4.1: 1009 Message Too Big; also when the message is much larger than what the
  // kernel buffers hold while the server closes (the client must get the close frame, not a reset).
  assert.deepEqual(await exchangeOne(b, init(MiB + 1)), { close: 1009 });
  assert.deepEqual(await exchangeOne(b, init(8 * MiB)), { close: 1009 });
  const c = client(b);
  const s = collect(c, 'subscription { catalogueChanged { kind } }');
  await subscribed(b, 1);
  s.unsubscribe();
  await c.dispose();
});

test('subscriptions over TLS (wss) when serve runs with TLS; a client certificate counts as a token', async () => {
  const tlsSocket = (options) => class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { ca: testCa, ...options });
    }
  };
  assert.match(secure.ws, /^wss:\/\//);
  // Neither token nor certificate: refused in connection_init, as over ws://.
  const anonymous = client(secure, {}, { webSocketImpl: tlsSocket({}) });
  await waitFor(() => anonymous.closes.length > 0, 'the close');
  assert.equal(anonymous.closes[0], 4403);
  await anonymous.dispose();
  // A verified client certificate and no token: subscribes.
  const c = client(secure, {}, { webSocketImpl: tlsSocket({
    cert: readFileSync(join(pki, 'client.pem')), key: readFileSync(join(pki, 'client.key')) }) });
  const s = collect(c, 'subscription($ids: [ID!]!) { animeChanged(ids: $ids) { kind version anime { title } } }',
    { ids: [OTHER] });
  await subscribed(secure, 1);
  // Written through another replica (plain HTTP); delivered over TLS.
  const v = await updateTitle(b, OTHER, 'Delivered over wss');
  await waitFor(() => s.results.length >= 1, 'the change over wss');
  assert.deepEqual(s.results, [{ data: { animeChanged: { kind: 'UPDATED', version: v,
    anime: { title: 'Delivered over wss' } } } }]);
  s.unsubscribe();
  await c.dispose();
});

test('SIGTERM closes subscribers with 1001', async () => {
  const c = client(a);
  collect(c, 'subscription { catalogueChanged { kind } }');
  await subscribed(a, 1);
  const code = await a.stop();
  assert.equal(code, 0);
  await waitFor(() => c.closes.length > 0, 'the close');
  assert.equal(c.closes[0], 1001);
  await c.dispose();
  a = null;
});
