// GraphiQL as a person uses it: headless Chromium (Debian's `chromium`, driven by
// puppeteer-core) opens GET /graphql of a real `serve` on the demo catalogue, and
//  - the page and everything it loads come from the service: any request to another host is
//    failed in the browser and fails the test;
//  - a query typed into the editor with the keyboard and run with the run button shows the
//    demo catalogue's answer (the expected rows come from SQL on the same database);
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

const STEPS = [stepPageLoads, stepTypedQueryReturnsData];

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
