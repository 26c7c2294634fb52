// graphql-js builds a client schema from our live introspection and finds it valid, and it
// prints the same SDL as docs/schema.graphql.
//   node tests/js/graphql_client_schema.mjs <path to graphql_test_server>
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importOrSkip, startGraphqlServer } from './start_graphql_server.mjs';

const { buildClientSchema, getIntrospectionQuery, printSchema, validateSchema } =
  await importOrSkip('graphql');
const exe = process.argv[2];
if (!exe) { console.error('usage: graphql_client_schema.mjs <graphql_test_server>'); process.exit(2); }

const server = await startGraphqlServer(exe);
let failures = 0;
try {
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true,
    directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) throw new Error(`introspection failed: ${JSON.stringify(body.errors)}`);
  const schema = buildClientSchema(body.data);
  const errors = validateSchema(schema);
  for (const e of errors) { console.log(`INVALID: ${e.message}`); failures++; }
  const docs = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../docs/schema.graphql'), 'utf8');
  if (printSchema(schema) !== docs.trimEnd()) {
    console.log('MISMATCH: printSchema(buildClientSchema(introspection)) differs from docs/schema.graphql');
    failures++;
  }
  console.log(`types: ${Object.keys(schema.getTypeMap()).length}, errors: ${failures}`);
} finally {
  await server.stop();
}
process.exit(failures ? 1 : 0);
