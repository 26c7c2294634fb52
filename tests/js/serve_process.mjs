// A real `postgres-service serve` on free loopback ports, on a database of its own with the
// demo data (the JavaScript twin of tests/python/service_process.py). Needs the local stack's
// environment: eval "$(scripts/stack env)".
import { spawn, execFileSync } from 'node:child_process';

const ADMIN_URL = process.env.PSVC_ADMIN_DATABASE_URL ?? '';

function psql(url, sql) {
  execFileSync('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PGOPTIONS: '-c client_min_messages=error' },
  });
}

/// Rows of a query as arrays of strings (psql's unaligned output, tab-separated).
export function queryRows(url, sql) {
  const out = execFileSync('psql', [url, '-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
                           { encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
}

/// Drops database `db`, retrying for up to 15 s. DROP ... WITH (FORCE) refuses to end sessions
/// it may not signal (another role's, an autovacuum worker's) and such a session can still be
/// there just after the test's servers exited; it goes away within moments.
export function dropDatabase(db) {
  const deadline = Date.now() + 15000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      execFileSync('psql', [ADMIN_URL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
                            `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`],
                   { stdio: ['ignore', 'ignore', 'pipe'],
                     env: { ...process.env, PGOPTIONS: '-c client_min_messages=error' } });
      return;
    } catch (e) {
      const sessions = queryRows(ADMIN_URL, 'SELECT pid, backend_type, usename, state ' +
                                 `FROM pg_stat_activity WHERE datname = '${db}'`);
      console.error(`retrying DROP DATABASE ${db} (${String(e.stderr).trim()}); ` +
                    `its sessions: ${JSON.stringify(sessions)}`);
      if (Date.now() > deadline) throw new Error(`DROP DATABASE ${db}: ${e.stderr}`);
      Atomics.wait(pause, 0, 0, 200);
    }
  }
}

/// A fresh migrated database holding the demo catalogue; `drop()` removes it.
export function createDemoDatabase(binary, name) {
  if (!ADMIN_URL) throw new Error('start the stack: eval "$(scripts/stack env)"');
  const db = `psvc_test_${name}_${process.pid}`;
  const ownerUrl = `${ADMIN_URL.slice(0, ADMIN_URL.lastIndexOf('/'))}/${db}`;
  dropDatabase(db);
  psql(ADMIN_URL, `CREATE DATABASE ${db}`);
  const env = { ...process.env, DATABASE_URL: ownerUrl };
  execFileSync(binary, ['migrate'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(binary, ['demo-data'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    ownerUrl,
    appUrl: ownerUrl.replace('psvc_owner@', 'psvc_app@'),  // served as in production
    drop: () => dropDatabase(db),
  };
}

/// Starts `serve` on `databaseUrl` (HTTP and gRPC on port 0) and resolves once it logs its
/// addresses: { httpUrl, grpcAddress, log(), stop() }. Events stay off unless `args` has
/// --nats-url: NATS_URL is not passed on.
export function startServe(binary, databaseUrl, args = [], timeoutMs = 30000) {
  const env = Object.fromEntries(Object.entries(process.env).filter(
    ([k]) => !k.startsWith('PSVC_') && k !== 'NATS_URL' && k !== 'DATABASE_URL'));
  const child = spawn(binary, ['serve', '--log-format', 'json', '--database-url', databaseUrl,
                               '--grpc-address', '127.0.0.1:0', '--http-port', '0', ...args],
                      { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; });
  const stop = () => new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.once('exit', (code) => { clearTimeout(killer); done(code); });
    child.kill('SIGTERM');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(async () => {
      await stop();
      reject(new Error(`serve did not start in ${timeoutMs / 1000} s:\n${log}`));
    }, timeoutMs);
    const onExit = (code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code}:\n${log}`)); };
    child.once('exit', onExit);
    const poll = setInterval(() => {
      const m = log.match(/HTTP on (https?:\/\/[0-9.]+:[0-9]+).*gRPC on ([0-9.]+:[0-9]+)/);
      if (!m) return;
      clearInterval(poll);
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ httpUrl: m[1], grpcAddress: m[2], log: () => log, stop });
    }, 50);
    child.once('exit', () => clearInterval(poll));
  });
}
