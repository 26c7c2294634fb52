// graphql-js on the hydration document and data of graphql_bench (bench/graphql): parse +
// validate + execute per operation, as our engine does. Prints ops/s and a check digest.
// Usage: node graphql_js_bench.mjs <schema.graphql> <data.json> '<variables json>' [seconds]
// With PSVC_BENCH_JSON=FILE it also appends its result to FILE as a JSON line, in CPU time per
// operation (the process's user + system time), as graphql_bench reports ours.
import { createRequire } from 'node:module';
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { buildSchema, parse, validate, execute } = require('graphql');

const [schemaPath, dataPath, variablesJson, secondsArg] = process.argv.slice(2);
const schema = buildSchema(readFileSync(schemaPath, 'utf8'));
const data = JSON.parse(readFileSync(dataPath, 'utf8'));
const variables = JSON.parse(variablesJson);
const source = readFileSync(join(root, 'bench', 'graphql', 'hydration.graphql'), 'utf8');

// Same indexes as the C++ test data (testing/anime_schema.cpp).
const byId = new Map();
for (const t of ['anime', 'characters', 'studios']) for (const r of data[t]) byId.set(r.id, r);
const byCharacter = new Map();
const byStudio = new Map();
for (const a of data.anime) {
  for (const id of new Set(a.characterIds)) { if (!byCharacter.has(id)) byCharacter.set(id, []); byCharacter.get(id).push(a); }
  for (const id of new Set(a.studioIds)) { if (!byStudio.has(id)) byStudio.set(id, []); byStudio.get(id).push(a); }
}
const f = (type, name) => schema.getType(type).getFields()[name];
f('Query', 'animes').resolve = (_, { ids }) => ids.map((id) => { const r = byId.get(id); return r && r.__typename === 'Anime' ? r : null; });
f('Anime', 'characters').resolve = (a, { role, first }) => {
  let list = a.characterIds.map((id) => byId.get(id)).filter(Boolean);
  if (role != null) list = list.filter((c) => c.role === role);
  return first == null ? list : list.slice(0, Math.max(first, 0));
};
f('Anime', 'studios').resolve = (a) => a.studioIds.map((id) => byId.get(id)).filter(Boolean);
f('Character', 'appearsIn').resolve = (c) => byCharacter.get(c.id) || [];
f('Studio', 'anime').resolve = (s) => byStudio.get(s.id) || [];

function once() {
  const doc = parse(source);
  const errors = validate(schema, doc);
  if (errors.length) throw new Error(errors[0].message);
  return execute({ schema, document: doc, variableValues: variables });
}

const first = JSON.stringify(once());
const seconds = Number(secondsArg || 3);
for (let i = 0; i < 50; i++) once();  // warm-up for the JIT
let n = 0;
const cpuStart = process.cpuUsage();
const start = process.hrtime.bigint();
let elapsed = 0;
while (elapsed < seconds) {
  once();
  n++;
  if ((n & 15) === 0) elapsed = Number(process.hrtime.bigint() - start) / 1e9;
}
elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(`graphql-js ${require('graphql/package.json').version}: ${(n / elapsed).toFixed(0)} ops/s, ` +
  `${(1e6 * elapsed / n).toFixed(1)} us/op, response_bytes=${first.length}`);
if (process.env.PSVC_BENCH_JSON) {
  appendFileSync(process.env.PSVC_BENCH_JSON, JSON.stringify({
    bench: 'graphql_engine', case: 'BM_HydrationParseValidateExecute',
    mode: `graphql-js ${require('graphql/package.json').version}`,
    ms_per_op: 1000 * cpuSeconds / n, rate: n / cpuSeconds,
  }) + '\n');
}
