// Builds ./cmd/xgate (or uses XGATE_BIN) and starts two servers for the whole run:
//   main  - with XGATE_ADMIN_PASSWORD, for most tests (XGATE_E2E_URL)
//   fresh - without it, so its admin keeps the default password (XGATE_E2E_FRESH_URL)
// Tests reach them through the environment variables (see fixtures.ts). Both are stopped
// when the run ends; their logs stay in e2e/artifacts/logs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunningServer, startServer, stopServer } from './server';

export const E2E_ADMIN_PASSWORD = 'e2e-admin-secret';

export default async function globalSetup(): Promise<() => Promise<void>> {
  const root = resolve(__dirname, '..');
  const tmp = mkdtempSync(join(tmpdir(), 'xgate-e2e-'));
  const logDir = join(__dirname, 'artifacts', 'logs');
  let bin = process.env.XGATE_BIN;
  if (!bin) {
    bin = join(tmp, 'xgate');
    console.log('e2e: building ./cmd/xgate');
    execFileSync('go', ['build', '-o', bin, './cmd/xgate'], { cwd: root, stdio: 'inherit' });
  }
  const servers: RunningServer[] = [];
  const teardown = async () => {
    for (const s of servers.reverse()) await stopServer(s);
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    // main first: it gets the gateways' standard ports.
    const main = await startServer({ name: 'main', bin, dataDir: join(tmp, 'main'), logDir, adminPassword: E2E_ADMIN_PASSWORD });
    servers.push(main);
    const fresh = await startServer({ name: 'fresh', bin, dataDir: join(tmp, 'fresh'), logDir });
    servers.push(fresh);
    process.env.XGATE_E2E_URL = main.url;
    process.env.XGATE_E2E_PASSWORD = E2E_ADMIN_PASSWORD;
    process.env.XGATE_E2E_FRESH_URL = fresh.url;
    // A spec that must change a server's state for good (account.spec.ts) starts its own.
    process.env.XGATE_E2E_BIN = bin;
    console.log(`e2e: xgate main on ${main.url}, fresh on ${fresh.url}`);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}
