// GraphiQL as a person uses it: headless Chromium (Debian's `chromium`, driven by
// puppeteer-core) opens GET /graphql of a real `serve` on the demo catalogue, and
//  - the page and everything it loads come from the service: any request to another host is
//    failed in the browser and fails the test;
//  - a query typed into the editor with the keyboard and run with the run button shows the
//    demo catalogue's answer (the expected rows come from SQL on the same database);
//  - a subscription typed into the editor and run shows, in the response pane, the live event
//    of a mutation committed after it started (over GraphiQL's own WebSocket client);
//  - the page logs no console error and throws no uncaught exception.
// Each check is one step function below; a step for another feature is one more function.
//   node tests/js/graphiql_browser_test.mjs <postgres-service binary>   (stack env set)
// Exits 77 (CTest "skipped") when puppeteer-core or Chromium is not installed.
// PSVC_SCREENSHOT=/tmp/graphiql.png saves what the page shows once the query is typed.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { importOrSkip } from './start_graphql_server.mjs';
import { createDemoDatabase, queryRows, startServe } from './serve_process.mjs';

const CHROMIUM = process.env.PSVC_CHROMIUM ?? '/usr/bin/chromium';
const binary = process.argv[2];
if (!binary) { console.error('usage: graphiql_browser_test.mjs <postgres-service>'); process.exit(2); }
const { default: puppeteer } = await importOrSkip('puppeteer-core');
if (!existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is not installed (scripts/bootstrap)`);
  process.exit(77);
}

// Generous: the machine is shared; nothing here asserts on timing.
const TIMEOUT_MS = 60000;

/// Reads the text of one of GraphiQL's CodeMirror 5 editors (query editor or response).
function editorText(page, selector) {
  return page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());
}

/// The page loads from the service alone: the editor, the run button and the schema (GraphiQL
/// introspects on load; the documentation explorer lists the root type once it has it).
async function stepPageLoads(ctx) {
  const { page, serve } = ctx;
  const introspection = page.waitForResponse(
    (r) => r.url() === `${serve.httpUrl}/graphql` && r.request().method() === 'POST', { timeout: TIMEOUT_MS });
  const answer = await page.goto(`${serve.httpUrl}/graphql`, { waitUntil: 'load', timeout: TIMEOUT_MS });
  assert.equal(answer.status(), 200, 'GET /graphql as a browser');
  assert.match(answer.headers()['content-type'], /^text\/html/);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: TIMEOUT_MS });
  await page.waitForSelector('.graphiql-execute-button', { timeout: TIMEOUT_MS });
  const schema = await (await introspection).json();
  assert.ok(schema.data?.__schema, `introspection answered ${JSON.stringify(schema).slice(0, 300)}`);
  console.log('ok page loads (editor, run button, schema introspected)');
}

/// Types `text` into the query editor with the keyboard, replacing what was there. Typed on one
/// line: CodeMirror closes brackets and quotes as they open and types over them when they are
/// closed, so the editor ends up with exactly `text` (checked).
async function typeQuery(page, text) {
  // A click on the first line puts the cursor into the editor (CodeMirror's hidden textarea).
  await page.click('.graphiql-query-editor .CodeMirror-line');
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Escape');  // closes an autocompletion list, if one is open
  if (process.env.PSVC_SCREENSHOT) await page.screenshot({ path: process.env.PSVC_SCREENSHOT });
  assert.equal(await editorText(page, '.graphiql-query-editor'), text, 'what the editor holds after typing');
  // GraphiQL parses the editor 100 ms after the last change (debounced) and picks HTTP or the
  // WebSocket by that parse: run only once the parse is of this text.
  await page.waitForFunction((expected) => {
    const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
    return cm.documentAST?.loc?.source?.body === expected;
  }, { timeout: TIMEOUT_MS, polling: 50 }, text);
}

/// Clicks the run button and returns the response pane's JSON once it shows an answer.
async function runQuery(page) {
  await page.$eval('.graphiql-response .CodeMirror', (el) => el.CodeMirror.setValue(''));
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() => {
    const el = document.querySelector('.graphiql-response .CodeMirror');
    return el && el.CodeMirror.getValue().trim().startsWith('{');
  }, { timeout: TIMEOUT_MS, polling: 50 });
  return JSON.parse(await editorText(page, '.graphiql-response'));
}

/// A typed query returns the demo catalogue: Attack on Titan's seasons by year with their
/// studios, as SQL on the same database lists them.
async function stepTypedQueryReturnsData(ctx) {
  const { page, db } = ctx;
  const query = '{ animeList(filter: {titlePrefix: "Shingeki"}, orderBy: YEAR_ASC, first: 10) ' +
                '{ nodes { title year studios { name } } pageInfo { hasNextPage } } }';
  await typeQuery(page, query);
  const answer = await runQuery(page);
  assert.equal(answer.errors, undefined, `errors: ${JSON.stringify(answer.errors)}`);
  const expected = queryRows(db.ownerUrl, `
    SELECT a.title, a.year,
           coalesce((SELECT string_agg(c.name, '|' ORDER BY c.name) FROM anime_company ac
                       JOIN company c ON c.id = ac.company_id
                      WHERE ac.anime_id = a.id AND ac.role = 'studio'), '')
      FROM anime a
     WHERE a.title ILIKE 'Shingeki%' AND a.merged_into IS NULL AND a.hidden_at IS NULL
     ORDER BY a.year, a.id`).map(([title, year, studios]) => ({
    title, year: Number(year), studios: studios ? studios.split('|') : [] }));
  assert.ok(expected.length >= 2, 'the demo catalogue has Attack on Titan seasons');
  const got = answer.data.animeList.nodes.map((n) => ({
    title: n.title, year: n.year, studios: n.studios.map((s) => s.name).sort() }));
  assert.deepEqual(got, expected);
  assert.equal(answer.data.animeList.pageInfo.hasNextPage, false);
  console.log(`ok typed query answered ${got.length} anime (${got[0].title} ... ${got.at(-1).title})`);
}

/// A number from the service's Prometheus text (`NaN` when absent).
async function metric(serve, name) {
  const text = await (await fetch(`${serve.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/// Polls `check` every 50 ms until it holds; fails naming `what` after TIMEOUT_MS.
async function waitUntil(check, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${TIMEOUT_MS / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// A subscription run from the editor goes over the page's WebSocket client (graphql-ws) and
/// stays open; a mutation committed afterwards (sent by the test over HTTP, as another user
/// would) shows up in the response pane as the live event, with the anime as it now is.
async function stepSubscriptionShowsLiveUpdate(ctx) {
  const { page, serve } = ctx;
  const fmab = 'de0a0000-0000-4000-8000-000000000003';  // Fullmetal Alchemist: Brotherhood (demo)
  await typeQuery(page, `subscription { animeChanged(ids: ["${fmab}"]) { kind animeId version fields anime { title } } }`);
  await page.$eval('.graphiql-response .CodeMirror', (el) => el.CodeMirror.setValue(''));
  await page.click('.graphiql-execute-button');
  // The subscription is live on the server once the hub counts it; only then is a change
  // certain to be delivered to it.
  await waitUntil(async () => (await metric(serve, 'psvc_graphql_subscriptions')) === 1,
                  'the page\'s subscription to reach the server');
  assert.equal(await editorText(page, '.graphiql-response'), '', 'no event before the mutation');

  const gql = async (query, variables) => (await fetch(`${serve.httpUrl}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }),
  })).json();
  const before = await gql('query($id: ID!) { anime(id: $id) { version } }', { id: fmab });
  const title = `Brotherhood, live ${process.pid}`;
  const updated = await gql(`mutation($id: ID!, $t: String!, $v: Int!) {
      updateAnime(id: $id, input: {title: $t}, expectedVersion: $v) { version } }`,
  { id: fmab, t: title, v: before.data.anime.version });
  assert.equal(updated.errors, undefined, `updateAnime: ${JSON.stringify(updated.errors)}`);

  await page.waitForFunction((expected) => {
    const el = document.querySelector('.graphiql-response .CodeMirror');
    return el && el.CodeMirror.getValue().includes(expected);
  }, { timeout: TIMEOUT_MS, polling: 50 }, title);
  const event = JSON.parse(await editorText(page, '.graphiql-response'));
  assert.deepEqual(event, { data: { animeChanged: {
    kind: 'UPDATED', animeId: fmab, version: updated.data.updateAnime.version, fields: ['title'],
    anime: { title } } } });

  // While the subscription runs the run button stops it; the server then forgets it.
  await page.click('.graphiql-execute-button');
  await waitUntil(async () => (await metric(serve, 'psvc_graphql_subscriptions')) === 0,
                  'the stopped subscription to leave the server');
  console.log(`ok subscription showed the live update (version ${event.data.animeChanged.version})`);
}

const STEPS = [stepPageLoads, stepTypedQueryReturnsData, stepSubscriptionShowsLiveUpdate];

const db = createDemoDatabase(binary, 'graphiql_browser');
let serve;
let browser;
const offMachine = [];
const consoleErrors = [];
let failed = false;
try {
  // The page and assets of this source tree (the binary's default is the tree it was built from).
  serve = await startServe(binary, db.appUrl,
                           ['--graphiql-dir', fileURLToPath(new URL('../../web/graphiql', import.meta.url))]);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: no user namespaces for Chromium's sandbox. No GPU. No network
    // beyond loopback: background services stay off (puppeteer-core adds the usual
    // --disable-background-networking, --disable-component-update...).
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
           '--disable-extensions', '--disable-sync', '--disable-default-apps'],
    timeout: TIMEOUT_MS,
    protocolTimeout: TIMEOUT_MS * 2,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(TIMEOUT_MS);
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = new URL(req.url());
    const local = ['data:', 'blob:', 'about:'].includes(url.protocol) ||
                  (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && url.hostname === '127.0.0.1');
    if (local) {
      req.continue();
    } else {
      offMachine.push(req.url());
      req.abort('blockedbyclient');
    }
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) => {
    if (!offMachine.includes(req.url())) consoleErrors.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) consoleErrors.push(`HTTP ${r.status()}: ${r.url()}`);
  });

  const ctx = { page, serve, db };
  for (const step of STEPS) {
    const started = Date.now();
    await step(ctx);
    console.log(`   (${step.name}: ${Date.now() - started} ms)`);
  }
  assert.deepEqual(offMachine, [], 'requests that would have left the machine');
  assert.deepEqual(consoleErrors, [], 'console errors, uncaught exceptions, failed requests');
  console.log('ok no request left the machine, no console error');
} catch (err) {
  failed = true;
  console.error(err);
  if (serve) console.error(`--- serve log ---\n${serve.log().slice(-4000)}`);
  if (consoleErrors.length) console.error(`--- page errors ---\n${consoleErrors.join('\n')}`);
} finally {
  if (browser) await browser.close();
  if (serve) await serve.stop();
  db.drop();
}
console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(failed ? 1 : 0);
