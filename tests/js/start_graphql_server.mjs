// Starts src/graphql_api/graphql_test_server (a fresh test database with the demo data) and resolves
// with its URL once it prints "listening on <port>". Used by the GraphQL API checks.
import { spawn } from 'node:child_process';

export function startGraphqlServer(exe, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60000);
    child.on('exit', (code) => reject(new Error(`server exited early (${code})`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: `http://127.0.0.1:${m[1]}/graphql`,
          stop: () => new Promise((done) => { child.removeAllListeners('exit'); child.on('exit', done); child.kill('SIGTERM'); }),
        });
      }
    });
  });
}

// Imports an npm package, or exits 77 (CTest "skipped") when tests/js has no node_modules.
export async function importOrSkip(name) {
  try {
    return await import(name);
  } catch {
    console.log(`SKIP: ${name} is not installed (scripts/bootstrap --npm)`);
    process.exit(77);
  }
}
