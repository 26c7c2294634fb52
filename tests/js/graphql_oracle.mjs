// graphql-js (the reference implementation) as an oracle for our C++ engine:
//  (i)   introspection of the test schema -> buildClientSchema + validateSchema accept it, and
//        printSchema equals our own SDL printout;
//  (ii)  every corpus document: graphql-js parse+validate and ours agree on accept/reject, and
//        both agree with the expectation written in the corpus;
//  (iii) every valid corpus document: execution results are identical JSON.
// Usage: node graphql_oracle.mjs <path to graphql_oracle_driver> [corpus files...]
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Skipped (exit 77) rather than failed when `scripts/bootstrap --npm` has not been run.
let graphql;
try {
  graphql = await import('graphql');
} catch {
  console.log('SKIP: graphql-js not installed (run scripts/bootstrap --npm)');
  process.exit(77);
}
const {
  buildClientSchema, buildSchema, getIntrospectionQuery, graphqlSync, parse, printSchema,
  validate, validateSchema, GraphQLError,
} = graphql;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const driver = process.argv[2];
if (!driver) {
  console.error('usage: node graphql_oracle.mjs <graphql_oracle_driver> [corpus...]');
  process.exit(2);
}
const testdata = join(root, 'src', 'graphql', 'testdata');
const corpusFiles = process.argv.length > 3
  ? process.argv.slice(3)
  : readdirSync(testdata).filter((f) => f.endsWith('.corpus')).map((f) => join(testdata, f));
const dataText = readFileSync(join(testdata, 'anime_data.json'), 'utf8');

let failures = 0;
function fail(msg) {
  failures++;
  console.log(`FAIL ${msg}`);
}

function runOurs(requests) {
  const out = execFileSync(driver, ['run'], {
    input: JSON.stringify(requests), maxBuffer: 1 << 28,
  });
  return JSON.parse(out.toString('utf8'));
}

// ------------------------------------------------------------------ schema in graphql-js
const sdl = execFileSync(driver, ['sdl']).toString('utf8');
const schema = buildSchema(sdl);

const isUuid = (s) => typeof s === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s);
const uuid = schema.getType('UUID');
uuid.serialize = (v) => {
  if (isUuid(v)) return v;
  throw new GraphQLError(`UUID cannot represent value: ${JSON.stringify(v)}`);
};
uuid.parseValue = (v) => {
  if (isUuid(v)) return v;
  throw new GraphQLError(`Invalid UUID: ${JSON.stringify(v)}`);
};
uuid.parseLiteral = (ast) => {
  if (ast.kind === 'StringValue' && isUuid(ast.value)) return ast.value;
  throw new GraphQLError('Invalid UUID literal');
};

function setResolvers() {
  const byId = (d, id) => d.anime.find((x) => x.id === id) || d.characters.find((x) => x.id === id)
    || d.studios.find((x) => x.id === id) || null;
  const field = (type, name) => schema.getType(type).getFields()[name];
  field('Anime', 'characters').resolve = (a, { role, first }, d) => {
    let list = a.characterIds.map((id) => byId(d, id)).filter(Boolean);
    if (role != null) list = list.filter((c) => c.role === role);
    return first == null ? list : list.slice(0, Math.max(first, 0));
  };
  field('Anime', 'studios').resolve = (a, _, d) => a.studioIds.map((id) => byId(d, id)).filter(Boolean);
  field('Character', 'appearsIn').resolve = (c, _, d) => d.anime.filter((a) => a.characterIds.includes(c.id));
  field('Studio', 'anime').resolve = (s, _, d) => d.anime.filter((a) => a.studioIds.includes(s.id));
  const q = (name, fn) => { field('Query', name).resolve = (_, args, d) => fn(args, d); };
  q('anime', ({ id }, d) => { const r = byId(d, id); return r && r.__typename === 'Anime' ? r : null; });
  q('animes', ({ ids }, d) => ids.map((id) => { const r = byId(d, id); return r && r.__typename === 'Anime' ? r : null; }));
  q('allAnime', ({ filter, first }, d) => {
    const out = [];
    for (const a of d.anime) {
      if (filter) {
        if (filter.type != null && a.type !== filter.type) continue;
        if (filter.minScore != null && (a.score == null || a.score < filter.minScore)) continue;
        if (filter.airing != null && a.airing !== filter.airing) continue;
        if (filter.titleContains != null && !a.title.toLowerCase().includes(filter.titleContains.toLowerCase())) continue;
      }
      if (first == null || out.length < first) out.push(a);
    }
    return out;
  });
  q('node', ({ id }, d) => byId(d, id));
  q('character', ({ id }, d) => { const r = byId(d, id); return r && r.__typename === 'Character' ? r : null; });
  q('search', ({ term, limit }, d) => {
    const t = term.toLowerCase();
    const out = [];
    for (const [table, key] of [['anime', 'title'], ['characters', 'name'], ['studios', 'name']]) {
      for (const r of d[table]) {
        if (r[key].toLowerCase().includes(t) && (limit == null || out.length < limit)) out.push(r);
      }
    }
    return out;
  });
  q('echo', (args) => JSON.stringify(args));
  q('failing', () => { throw new Error('boom'); });
  q('nonNullFailing', () => null);
  q('legacy', () => 'old');
  const m = (name, fn) => { field('Mutation', name).resolve = (_, args, d) => fn(args, d); };
  m('updateAnime', ({ input }, d) => {
    const r = byId(d, input.id);
    if (!r || r.__typename !== 'Anime') throw new Error('No anime with that id.');
    for (const k of Object.keys(r)) if (k !== 'id' && k in input) r[k] = input[k];
    return r;
  });
  m('recordView', ({ id }, d) => {
    const r = byId(d, id);
    if (!r || r.__typename !== 'Anime') throw new Error('No anime with that id.');
    r.views += 1;
    return r.views;
  });
}
setResolvers();

// ------------------------------------------------------------------ (i) introspection
{
  const [res] = runOurs([{ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }) }]);
  if (!res.valid || res.response.errors) {
    fail(`introspection: ${JSON.stringify(res.errors || res.response.errors)}`);
  } else {
    const client = buildClientSchema(res.response.data);
    const errs = validateSchema(client);
    if (errs.length) fail(`introspection: validateSchema: ${errs.map((e) => e.message).join('; ')}`);
    const printed = printSchema(client);
    if (printed !== sdl) {
      fail('introspection: printSchema(buildClientSchema(ours)) differs from our SDL');
      console.log('--- ours\n' + sdl + '\n--- graphql-js\n' + printed);
    }
    if (printSchema(schema) !== sdl) fail('printSchema(buildSchema(ours)) differs from our SDL');
    // Our introspection must equal graphql-js's own for the same schema.
    const theirs = graphqlSync({ schema, source: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }) });
    const norm = (d) => {
      const types = Object.fromEntries(d.__schema.types.filter((t) => !t.name.startsWith('__')).map((t) => [t.name, t]));
      return JSON.stringify({ ...d.__schema, types, directives: d.__schema.directives.map((x) => x.name).sort() }, Object.keys(types).length ? undefined : undefined);
    };
    const a = JSON.parse(norm(res.response.data));
    const b = JSON.parse(norm(theirs.data));
    for (const name of Object.keys(b.types)) {
      if (!a.types[name]) { if (!['String', 'Boolean', 'Int', 'Float', 'ID'].includes(name)) fail(`introspection: type ${name} missing`); continue; }
      if (JSON.stringify(a.types[name]) !== JSON.stringify(b.types[name])) {
        fail(`introspection: type ${name} differs:\n ours   ${JSON.stringify(a.types[name])}\n theirs ${JSON.stringify(b.types[name])}`);
      }
    }
  }
}

// ------------------------------------------------------------------ corpus
function readCorpus(file) {
  const cases = [];
  let cur = null;
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const head = /^=== (valid|invalid|invalid-limit): (.*)$/.exec(line);
    if (head) {
      if (cur) cases.push(cur);
      cur = { file, line: i + 1, expect: head[1], name: head[2], body: [], opts: {} };
      return;
    }
    if (!cur) return;
    const opt = /^--- (variables|operation|error|extraerrors): ?(.*)$/.exec(line);
    if (opt && cur.body.length === 0) {
      cur.opts[opt[1]] = opt[2];
      return;
    }
    cur.body.push(line);
  });
  if (cur) cases.push(cur);
  for (const c of cases) {
    while (c.body.length && c.body[c.body.length - 1] === '') c.body.pop();
    c.query = c.body.join('\n');
  }
  return cases;
}

const cases = corpusFiles.flatMap(readCorpus);
const requests = cases.map((c) => ({
  query: c.query,
  variables: c.opts.variables ? JSON.parse(c.opts.variables) : undefined,
  operationName: c.opts.operation || undefined,
}));
const ours = runOurs(requests);

function jsValidate(query) {
  let doc;
  try {
    doc = parse(query);
  } catch (e) {
    return { valid: false, errors: [e.message], doc: null };
  }
  const errors = validate(schema, doc).map((e) => e.message);
  // graphql@16 accepts operations whose root type is missing; v17 and the spec reject them.
  for (const def of doc.definitions) {
    if (def.kind === 'OperationDefinition' && !schema.getRootType(def.operation)) {
      errors.push(`The ${def.operation} operation is not supported by the schema.`);
    }
  }
  return { valid: errors.length === 0, errors, doc };
}

// graphql-js stops executing an object's remaining fields once one of them nulls the object
// (sync execution), while our batched executor resolves every field; so compare data exactly
// and errors as a set of (message, path, locations).
function normErrors(errors) {
  return (errors || []).map((e) => JSON.stringify({ message: e.message, path: e.path, locations: e.locations })).sort();
}

let executed = 0;
cases.forEach((c, i) => {
  const where = `${c.file.split('/').pop()}:${c.line} "${c.name}"`;
  const js = jsValidate(c.query);
  const mine = ours[i];
  // invalid-limit: valid by the spec, rejected by our depth/alias/cost limits.
  const limit = c.expect === 'invalid-limit';
  const expectValid = c.expect === 'valid' || limit;
  if (js.valid !== expectValid) fail(`${where}: graphql-js says ${js.valid ? 'valid' : 'invalid'} (${js.errors.join(' | ')}), corpus says ${c.expect}`);
  if (limit) {
    if (mine.valid) fail(`${where}: ours accepts a document beyond our limits`);
    return;
  }
  if (mine.valid !== js.valid) fail(`${where}: ours says ${mine.valid ? 'valid' : 'invalid'} (${mine.errors.map((e) => e.message).join(' | ')}), graphql-js ${js.valid ? 'valid' : 'invalid'} (${js.errors.join(' | ')})`);
  if (!js.valid || !mine.valid) return;
  const data = JSON.parse(dataText);
  const res = graphqlSync({
    schema, source: c.query, contextValue: data, variableValues: requests[i].variables,
    operationName: requests[i].operationName,
  });
  const theirs = JSON.parse(JSON.stringify(res));
  const mineRes = mine.response;
  executed++;
  if (JSON.stringify(theirs.data) !== JSON.stringify(mineRes.data)) {
    fail(`${where}: data differs\n ours   ${JSON.stringify(mineRes.data)}\n theirs ${JSON.stringify(theirs.data)}`);
  }
  const a = normErrors(mineRes.errors);
  const b = normErrors(theirs.errors);
  if (!b.every((e) => a.includes(e)) || (a.length !== b.length && !c.opts.extraerrors)) {
    fail(`${where}: errors differ\n ours   ${a.join('\n        ')}\n theirs ${b.join('\n        ')}`);
  }
});

const validCount = cases.filter((c) => c.expect !== 'invalid').length;
console.log(`graphql-js oracle: ${cases.length} documents (${validCount} valid, ${cases.length - validCount} invalid), ${executed} executed, ${failures} failures`);
process.exit(failures ? 1 : 0);
