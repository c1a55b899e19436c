// Playwright end-to-end tests of the dashboard against the real binary (see global-setup.ts).
// Run with `npm run e2e`. The browser is Debian's Chromium (apt-get install chromium), never a
// downloaded one; XGATE_CHROMIUM overrides its path.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  globalSetup: './global-setup.ts',
  // Screenshots and traces of failed tests; server logs go to artifacts/logs.
  outputDir: './artifacts/results',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env.CI,
  retries: 0,
  // The specs share one server and its seeded gateways (connection counts, rules): one at a time.
  workers: 1,
  fullyParallel: false,
  reporter: [['list']],
  use: {
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.XGATE_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
