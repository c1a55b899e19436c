// Starting and stopping a real xgate for the end-to-end tests.
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface RunningServer {
  name: string;
  url: string;
  log: string;
  proc: ChildProcess;
}

/** freePort asks the kernel for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * startServer runs bin on a fresh data directory with its HTTP API on a free loopback port
 * and its MQTT listener on port 0, and waits until /api/v5/status answers. The seeded
 * gateways take their standard ports (61613, 1884, 5683, ...): a second server started
 * while the first runs shows those listeners as failed, which these tests allow.
 */
export async function startServer(opts: {
  name: string;
  bin: string;
  dataDir: string;
  logDir: string;
  adminPassword?: string;
}): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Only the variables chosen here reach xgate: a developer's XGATE_* must not change it.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('XGATE_')) env[k] = v;
  }
  if (opts.adminPassword) env.XGATE_ADMIN_PASSWORD = opts.adminPassword;
  mkdirSync(opts.dataDir, { recursive: true });
  mkdirSync(opts.logDir, { recursive: true });
  const log = join(opts.logDir, `xgate-${opts.name}.log`);
  const out = createWriteStream(log);
  const args = ['--data-dir', opts.dataDir, '--http-bind', `127.0.0.1:${port}`, '--mqtt-bind', '127.0.0.1:0',
    '--ws-bind', '', '--log-level', 'info'];
  const proc = spawn(opts.bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const server = { name: opts.name, url, log, proc };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`xgate (${opts.name}) exited with ${proc.exitCode ?? proc.signalCode}:\n${tail(log)}`);
    }
    try {
      const resp = await fetch(`${url}/api/v5/status`);
      if (resp.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`xgate (${opts.name}) did not answer on ${url} within 30 s:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** stopServer sends SIGTERM and waits for the exit, then SIGKILL after 10 s. */
export async function stopServer(server: RunningServer): Promise<void> {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}
