// What the tests share: the servers started by global-setup.ts and logging in.
import { Page, expect, test as base } from '@playwright/test';

export interface Server {
  url: string;
  password: string;
}

/** The server started with XGATE_ADMIN_PASSWORD. */
export function mainServer(): Server {
  return { url: need('XGATE_E2E_URL'), password: need('XGATE_E2E_PASSWORD') };
}

/** The server started without XGATE_ADMIN_PASSWORD: its admin has the default password. */
export function freshServer(): Server {
  return { url: need('XGATE_E2E_FRESH_URL'), password: 'public' };
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with npm run e2e (global-setup.ts starts xgate)`);
  return v;
}

/** test is Playwright's, with baseURL set to the main server: page.goto('/') opens it. */
export const test = base.extend({
  baseURL: async ({}, use) => use(mainServer().url),
});

export { expect };

/** login logs in through the login form and waits for the overview. */
export async function login(page: Page, server: Server = mainServer()): Promise<void> {
  await page.goto(server.url + '/login');
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-password').fill(server.password);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('current-user')).toHaveText('admin');
}
