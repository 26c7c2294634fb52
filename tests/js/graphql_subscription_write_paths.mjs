// Subscriptions fed by every write path, across replicas: two `serve` processes with NATS on one
// fresh demo database; a graphql-ws client subscribes on replica B while changes are made
//  - through replica A's gRPC PostgresWriteService (ApplyEvent),
//  - through JetStream ingestion (EventEnvelope on the ingest stream; either replica applies it),
//  - through a GraphQL mutation on replica A,
//  - by sagas started on A (merge confirmed, merge refused, removal confirmed, removal refused
//    after its confirmation was asked twice), answered by this test playing the Qdrant Sync
//    Service on the change stream.
// What B delivers must be, per anime, exactly the changes the test made, once each, in commit
// order, with the kinds and fields of docs/graphql.md's kind table.
//   node tests/js/graphql_subscription_write_paths.mjs <postgres-service binary>
// Needs the local stack's environment (eval "$(scripts/stack env)"): PostgreSQL and NATS.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { importOrSkip } from './start_graphql_server.mjs';
import { createDemoDatabase, startServe } from './serve_process.mjs';

const { createClient } = await importOrSkip('graphql-ws');
const { default: WebSocket } = await importOrSkip('ws');
const grpc = await importOrSkip('@grpc/grpc-js');
const protoLoader = await importOrSkip('@grpc/proto-loader');
const { default: protobuf } = await importOrSkip('protobufjs');
const nats = await importOrSkip('nats');

const binary = process.argv[2];
const NATS_URL = process.env.NATS_URL;
if (!binary || !process.env.PSVC_ADMIN_DATABASE_URL || !NATS_URL) {
  console.log('SKIP: needs the postgres-service binary and the stack environment (with NATS_URL)');
  process.exit(77);
}

const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));
const TOKEN = 'subscription-write-paths-token-0123';
const TIMEOUT_MS = 60000;  // generous: the machine is shared; nothing asserts on timing

// Demo catalogue (src/dataset/demo_data.sql); each anime plays one part.
const demo = (n) => `de0a0000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`;
const X = demo(10);  // Steins;Gate: written through every ingestion path
const S = demo(17);  // Cowboy Bebop: a merge's survivor
const D = demo(18);  // Cowboy Bebop: Tengoku no Tobira: merged into S
const F = demo(13);  // Kidou Senshi Gundam: survivor of a refused merge
const E = demo(14);  // Kidou Senshi Gundam I: duplicate of a refused merge
const R = demo(24);  // Tonari no Totoro: removed
const Q = demo(23);  // Sen to Chihiro no Kamikakushi: removal refused
const N = randomUUID();  // created by a JetStream enrichment

// Per-test NATS names: the stack's NATS is shared by every checkout.
const tag = `subw${process.pid}`;
const natsArgs = [
  '--nats-url', NATS_URL,
  '--changes-stream', `T_${tag.toUpperCase()}`, '--changes-prefix', `t.${tag}.changes`,
  '--ingest-stream', `T_${tag.toUpperCase()}_IN`, '--ingest-subjects', `t.${tag}.ingest.>`,
  '--ingest-durable', `d_${tag}`, '--dead-letter-subject', `t.${tag}.dlq`,
  '--saga-reply-prefix', `t.${tag}.replies`, '--saga-reply-timeout-ms', '2000',
  '--auth-tokens', TOKEN, '--log-level', 'warn',
];

const events = protobuf.loadSync(`${PROTO_DIR}/anime/events/v1/events.proto`);
const Envelope = events.lookupType('anime.events.v1.EventEnvelope');
const writeProto = grpc.loadPackageDefinition(protoLoader.loadSync(
  `${PROTO_DIR}/anime/write/v1/write_service.proto`,
  { includeDirs: [PROTO_DIR], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }));

let db, a, b, nc, writeA, confirmer;
const metadata = new grpc.Metadata();
metadata.set('authorization', `Bearer ${TOKEN}`);

async function waitFor(check, what, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function gql(server, query, variables = {}) {
  const r = await fetch(`${server.httpUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

async function version(server, id) {
  const r = await gql(server, 'query($id: ID!) { anime(id: $id) { version } }', { id });
  return r.data?.anime?.version ?? null;
}

async function metric(server, name) {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function grpcCall(method, request) {
  return new Promise((resolve, reject) => {
    writeA[method](request, metadata, { deadline: Date.now() + TIMEOUT_MS },
                   (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

/// An EventEnvelope (snake_case fields, as in the proto) around one payload.
function envelope(payload) {
  const now = Date.now();
  return { event_id: randomUUID(), occurred_at: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
           producer: 'subscription-write-paths-test', schema_version: 1, ...payload };
}

async function applyOverGrpc(payload) {
  const reply = await grpcCall('ApplyEvent', { event: envelope(payload) });
  assert.equal(reply.outcome, 'OUTCOME_APPLIED', JSON.stringify(reply));
  return Number(reply.version);
}

/// Publishes to the ingestion stream (retried while the replicas are still creating it).
async function publishToJetStream(payload) {
  const env = envelope(payload);
  const bytes = Envelope.encode(Envelope.fromObject(toCamel(env))).finish();
  const js = nc.jetstream();
  await waitFor(async () => {
    try {
      await js.publish(`t.${tag}.ingest.events`, bytes, { msgID: env.event_id });
      return true;
    } catch {
      return false;
    }
  }, 'the ingest stream to take a message');
}

function toCamel(v) {
  if (Array.isArray(v)) return v.map(toCamel);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), toCamel(x)]));
}

const episode = (anime, number) => ({ episode_aired: {
  anime_id: anime, episode_id: randomUUID(), number, title: `Episode ${number}`, duration_seconds: 1440 } });

/// Plays the Qdrant Sync Service: answers the sagas' confirmation requests on the change stream.
/// `refuse`: anime whose saga is refused; `silentFirst`: anime whose first request goes
/// unanswered (the saga asks again after --saga-reply-timeout-ms).
function startConfirmer(refuse, silentFirst) {
  const sub = nc.subscribe(`t.${tag}.changes.>`);
  const requests = {};
  (async () => {
    for await (const m of sub) {
      const req = JSON.parse(nats.StringCodec().decode(m.data));
      if (req.event_type !== 'AnimeMerged' && req.event_type !== 'AnimeRemoved') continue;
      const anime = req.duplicate_id || req.anime_id;
      requests[anime] = Math.max(requests[anime] ?? 0, req.attempt);
      if (silentFirst.has(anime) && req.attempt === 1) continue;
      const h = nats.headers();
      h.set('Psvc-Saga-Outcome', refuse.has(anime) ? 'REFUSED' : 'CONFIRMED');
      nc.publish(req.reply_subject, nats.StringCodec().encode('subscription test'), { headers: h });
    }
  })();
  return { requests, stop: () => sub.unsubscribe() };
}

before(async () => {
  db = createDemoDatabase(binary, 'subscription_write_paths');
  nc = await nats.connect({ servers: NATS_URL });
  a = await startServe(binary, db.appUrl, natsArgs);
  b = await startServe(binary, db.appUrl, natsArgs);
  const Service = writeProto.anime.write.v1.PostgresWriteService;
  writeA = new Service(a.grpcAddress, grpc.credentials.createInsecure());
});

after(async () => {
  confirmer?.stop();
  writeA?.close();
  for (const s of [a, b]) if (s) await s.stop();
  if (nc) {
    const jsm = await nc.jetstreamManager();
    for (const stream of [`T_${tag.toUpperCase()}`, `T_${tag.toUpperCase()}_IN`]) {
      await jsm.streams.delete(stream).catch(() => {});
    }
    await nc.close();
  }
  db?.drop();
});

test('every write path reaches a subscriber on another replica, once, in commit order', async () => {
  const client = createClient({ url: `${b.httpUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket,
                                retryAttempts: 0, lazy: false, onNonLazyError: () => {} });
  const all = [];
  const ofDuplicate = [];
  const fields = 'kind animeId version fields mergedInto changeId anime { id title synopsis }';
  client.subscribe({ query: `subscription { catalogueChanged { ${fields} } }` },
                   { next: (r) => all.push(r.data.catalogueChanged), error: (e) => all.push({ error: e }), complete: () => {} });
  client.subscribe({ query: `subscription($ids: [ID!]!) { animeChanged(ids: $ids) { ${fields} } }`, variables: { ids: [D] } },
                   { next: (r) => ofDuplicate.push(r.data.animeChanged), error: (e) => ofDuplicate.push({ error: e }), complete: () => {} });
  await waitFor(async () => (await metric(b, 'psvc_graphql_subscriptions')) === 2, 'both subscriptions on B');
  confirmer = startConfirmer(new Set([E, Q]), new Set([Q]));

  // 1. X: episodes through gRPC (A) and JetStream (either replica) at once; each one commits a
  // version, so X's events must carry v0+1 ... v0+12 in this order.
  const v0 = await version(a, X);
  await Promise.all([
    ...[1, 2, 3, 4, 5, 6].map((i) => applyOverGrpc(episode(X, 100 + i))),
    ...[1, 2, 3, 4, 5, 6].map((i) => publishToJetStream(episode(X, 200 + i))),
  ]);
  await waitFor(async () => (await version(a, X)) === v0 + 12, 'the twelve episodes to apply');

  // 2. X: one update through each path, one after the other.
  assert.equal(await applyOverGrpc({ anime_updated: {
    anime_id: X, field_mask: ['title'], fields: { title: 'Steins;Gate via gRPC' }, expected_version: v0 + 12 } }), v0 + 13);
  await publishToJetStream({ anime_updated: {
    anime_id: X, field_mask: ['synopsis'], fields: { title: 'ignored', synopsis: 'Via JetStream.' }, expected_version: v0 + 13 } });
  await waitFor(async () => (await version(a, X)) === v0 + 14, 'the JetStream update to apply');
  const m = await gql(a, `mutation($id: ID!, $v: Int!) {
      updateAnime(id: $id, input: {title: "Steins;Gate via GraphQL"}, expectedVersion: $v) { version } }`, { id: X, v: v0 + 14 });
  assert.equal(m.errors, undefined, JSON.stringify(m.errors));
  assert.equal(m.data.updateAnime.version, v0 + 15);

  // 3. N: created by a JetStream enrichment.
  await publishToJetStream({ anime_enriched: { anime_id: N, fields: { title: 'Made by JetStream', year: 2024 } } });
  await waitFor(async () => (await version(a, N)) !== null, 'the enrichment to apply');
  const vN = await version(a, N);

  // 4. Sagas, started on A, driven by whichever replica holds them.
  const start = (method, req) => grpcCall(method, { request_id: randomUUID(), ...req });
  const sagas = {
    merged: await start('StartMergeAnime', { duplicate_id: D, survivor_id: S }),
    refusedMerge: await start('StartMergeAnime', { duplicate_id: E, survivor_id: F }),
    removed: await start('StartRemoveAnime', { anime_id: R, reason: 'subscription test' }),
    refusedRemoval: await start('StartRemoveAnime', { anime_id: Q, reason: 'subscription test' }),
  };
  const final = {};
  await waitFor(async () => {
    for (const [name, s] of Object.entries(sagas)) {
      const saga = await grpcCall('GetSaga', { saga_id: s.saga_id });
      if (['SAGA_STATUS_COMPLETED', 'SAGA_STATUS_COMPENSATED'].includes(saga.status)) final[name] = saga.status;
    }
    return Object.keys(final).length === 4;
  }, 'the four sagas to finish');
  assert.deepEqual(final, { merged: 'SAGA_STATUS_COMPLETED', refusedMerge: 'SAGA_STATUS_COMPENSATED',
                            removed: 'SAGA_STATUS_COMPLETED', refusedRemoval: 'SAGA_STATUS_COMPENSATED' });
  assert.ok(confirmer.requests[Q] >= 2, `the refused removal was asked again (${confirmer.requests[Q]} requests)`);

  // 5. A last change, committed after every other: once it arrives, so has everything before it
  // on B's feed (the feed delivers in commit order).
  const vE = await applyOverGrpc(episode(E, 1));
  await waitFor(() => all.some((c) => c.animeId === E && c.version === vE), 'the last change on B');

  // What B delivered, per anime, against what the test did (docs/graphql.md, kind table).
  assert.equal(all.filter((c) => c.error).length, 0, JSON.stringify(all.filter((c) => c.error)));
  const byAnime = (id) => all.filter((c) => c.animeId === id);
  const pick = (c, ...keys) => Object.fromEntries(keys.map((k) => [k, c[k]]));
  assert.deepEqual(byAnime(X).map((c) => pick(c, 'kind', 'version', 'fields')), [
    ...Array.from({ length: 12 }, (_, i) => ({ kind: 'EPISODE_AIRED', version: v0 + 1 + i, fields: null })),
    { kind: 'UPDATED', version: v0 + 13, fields: ['title'] },
    { kind: 'UPDATED', version: v0 + 14, fields: ['synopsis'] },
    { kind: 'UPDATED', version: v0 + 15, fields: ['title'] },
  ], 'X: commit order, exactly once');
  assert.deepEqual(byAnime(N).map((c) => pick(c, 'kind', 'version')), [{ kind: 'ENRICHED', version: vN }]);
  assert.equal(byAnime(N)[0].anime.title, 'Made by JetStream');
  // A confirmed merge: MERGED twice, one change (one changeId), the duplicate's naming the
  // survivor, whose anime both resolve to.
  const [toS, toD] = [byAnime(S), byAnime(D)];
  assert.deepEqual(toS.map((c) => pick(c, 'kind', 'version', 'mergedInto')), [{ kind: 'MERGED', version: null, mergedInto: null }]);
  assert.deepEqual(toD.map((c) => pick(c, 'kind', 'version', 'mergedInto')), [{ kind: 'MERGED', version: null, mergedInto: S }]);
  assert.equal(toS[0].changeId, toD[0].changeId);
  assert.equal(toS[0].anime.id, S);
  assert.equal(toD[0].anime.id, S);
  assert.deepEqual(ofDuplicate, toD, 'animeChanged on the duplicate hears of its merge');
  // A refused merge changed nothing: no event for either anime (E's is the last change above).
  assert.deepEqual(byAnime(F), []);
  assert.deepEqual(byAnime(E).map((c) => pick(c, 'kind', 'version')), [{ kind: 'EPISODE_AIRED', version: vE }]);
  // A removal: REMOVED once, when it started (the purge after the confirmation is no change).
  assert.deepEqual(byAnime(R).map((c) => pick(c, 'kind', 'version', 'anime')), [{ kind: 'REMOVED', version: null, anime: null }]);
  // A refused removal asked twice: REMOVED once, then RESTORED with the anime back.
  assert.deepEqual(byAnime(Q).map((c) => pick(c, 'kind', 'version')), [
    { kind: 'REMOVED', version: null }, { kind: 'RESTORED', version: null }]);
  assert.equal(byAnime(Q)[1].anime.id, Q);
  // Nothing else, and no change twice.
  const known = new Set([X, N, S, D, E, F, R, Q]);
  assert.deepEqual(all.filter((c) => !known.has(c.animeId)), [], 'changes nobody made');
  const keys = all.map((c) => `${c.changeId}/${c.animeId}`);
  assert.equal(new Set(keys).size, keys.length, 'each change delivered once');
  await client.dispose();
});
