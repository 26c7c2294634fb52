// The graphql-http audit suite (GraphQL over HTTP spec) against our server.
// Every MUST must pass; SHOULD/MAY failures are printed (docs/graphql.md lists them with reasons).
//   node tests/js/graphql_http_audit.mjs <path to graphql_test_server>
import { importOrSkip, startGraphqlServer } from './start_graphql_server.mjs';

const { auditServer } = await importOrSkip('graphql-http');
const exe = process.argv[2];
if (!exe) { console.error('usage: graphql_http_audit.mjs <graphql_test_server>'); process.exit(2); }

const server = await startGraphqlServer(exe);
let failedMust = 0;
try {
  const results = await auditServer({ url: server.url });
  const counts = { ok: 0, warn: 0, error: 0 };
  for (const r of results) {
    counts[r.status]++;
    if (r.status !== 'ok') {
      console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
    }
    if (r.status === 'error') failedMust++;
  }
  console.log(`audits: ${results.length}, ok ${counts.ok}, warn ${counts.warn}, error ${counts.error}`);
} finally {
  await server.stop();
}
process.exit(failedMust ? 1 : 0);
