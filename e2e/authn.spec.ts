// Authentication of a listener with built-in users, checked with a real STOMP client, and
// the HTTP authenticator's tester against a real HTTP server. The spec leaves no
// authenticator behind: the other specs connect anonymously to the seeded STOMP listener.
import { createServer, Server as HTTPServer } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { Page } from '@playwright/test';
import { expect, login, mainServer, test } from './fixtures';

const LISTENER = 'stomp:tcp:default';
const PAGE = `/gateways/stomp/listeners/${LISTENER}/authentication`;
const API = `/api/v5/gateways/stomp/listeners/${encodeURIComponent(LISTENER)}/authentication`;
const STOMP_PORT = 61613; // the seeded listener of the main server

test.describe.configure({ mode: 'serial' });

test.beforeAll(removeAuthenticator);
test.afterAll(removeAuthenticator);

test.beforeEach(async ({ page }) => {
  await login(page);
});

test('listener authentication with built-in users: wrong password refused, right one accepted', async ({ page }) => {
  await page.goto(PAGE);
  await expect(page.getByTestId('authn-title')).toContainText(LISTENER);
  await expect(page.getByTestId('authn-scope')).toContainText("replaces the gateway's");
  await expect(page.getByTestId('authn-backend')).toHaveValue('');
  expect(await stompConnect({})).toMatch(/^CONNECTED/);

  // The form shows the fields of the chosen backend and algorithm only.
  await page.getByTestId('authn-backend').selectOption('built_in_database');
  await expect(page.getByTestId('authn-hash-name')).toHaveValue('sha256');
  await expect(page.getByTestId('authn-salt-position')).toBeVisible();
  await page.getByTestId('authn-hash-name').selectOption('pbkdf2');
  await expect(page.getByTestId('authn-iterations')).toHaveValue('4096');
  await expect(page.getByTestId('authn-salt-position')).toHaveCount(0);
  await page.getByTestId('authn-hash-name').selectOption('bcrypt');
  await expect(page.getByTestId('authn-salt-rounds')).toHaveValue('10');
  await expect(page.getByTestId('authn-iterations')).toHaveCount(0);

  // A value the authenticator refuses: the reason is next to the field, nothing stored.
  await page.getByTestId('authn-salt-rounds').fill('4');
  await page.getByTestId('authn-save').click();
  await expect(page.getByTestId('authn-error-salt-rounds')).toHaveText('must be between 5 and 10');
  await expect(page.getByTestId('authn-salt-rounds')).toHaveAttribute('aria-invalid', 'true');
  expect((await api('GET', API)).status).toBe(204);

  await page.getByTestId('authn-salt-rounds').fill('5');
  await page.getByTestId('authn-save').click();
  await expect(page.getByTestId('flash-success')).toContainText('Authenticator created');
  await expect(page.getByTestId('authn-form')).toHaveAttribute('data-stored', 'built_in_database');
  await expect(page.getByTestId('authn-users-empty')).toBeVisible();
  expect(await stompConnect({})).toMatch(/^ERROR/);

  // Add a user, from the keyboard: type, Tab, type, Enter.
  await page.getByTestId('authn-user-add-id').fill('e2e-user');
  await page.getByTestId('authn-user-add-id').press('Tab');
  await expect(page.getByTestId('authn-user-add-password')).toBeFocused();
  await page.keyboard.type('e2e-pass');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('flash-success')).toHaveText('User e2e-user added.');
  await expect(page.getByTestId('authn-user-e2e-user')).toBeVisible();
  await expect(page.getByTestId('authn-user-add-id')).toHaveValue('');

  const wrong = await stompConnect({ login: 'e2e-user', passcode: 'nope' });
  expect(wrong).toMatch(/^ERROR/);
  expect(wrong).toContain('Login Failed');
  expect(await stompConnect({ login: 'e2e-user', passcode: 'e2e-pass' })).toMatch(/^CONNECTED/);

  // Import a CSV: the progress bar fills, the summary counts what happened.
  await page.evaluate(() => {
    document.addEventListener('htmx:beforeSwap', (e: Event) => {
      const bar = document.getElementById('authn-import-progress') as HTMLProgressElement | null;
      if (bar && (e.target as Element).id === 'authn-import') (window as any).uiauProgress = bar.value;
    });
  });
  await page.getByTestId('authn-import-file').setInputFiles({
    name: 'users.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('user_id,password,is_superuser\ncsv1,pw1,false\ncsv2,pw2,true\ncsv1,pw3,false\n,nopw,\n'),
  });
  await page.getByTestId('authn-import-submit').click();
  await expect(page.getByTestId('authn-import-summary')).toBeVisible();
  await expect(page.getByTestId('authn-import-total')).toHaveText('4');
  await expect(page.getByTestId('authn-import-success')).toHaveText('2');
  await expect(page.getByTestId('authn-import-override')).toHaveText('0');
  await expect(page.getByTestId('authn-import-skipped')).toHaveText('1');
  await expect(page.getByTestId('authn-import-failed')).toHaveText('1');
  expect(await page.evaluate(() => (window as any).uiauProgress)).toBe(100);
  await expect(page.getByTestId('authn-users-count')).toHaveText('3 users');
  expect(await stompConnect({ login: 'csv2', passcode: 'pw2' })).toMatch(/^CONNECTED/);

  // Search and filter.
  await page.getByTestId('authn-users-search').fill('csv');
  await expect(page.getByTestId('authn-user-e2e-user')).toHaveCount(0);
  await expect(page.getByTestId('authn-user-csv1')).toBeVisible();
  await expect(page.getByTestId('authn-user-csv2')).toBeVisible();
  await page.getByTestId('authn-users-superuser').selectOption('true');
  await expect(page.getByTestId('authn-user-csv1')).toHaveCount(0);
  await expect(page.getByTestId('authn-user-superuser-csv2')).toHaveText('yes');
  await page.getByTestId('authn-users-superuser').selectOption('');
  await page.getByTestId('authn-users-search').fill('');
  await expect(page.getByTestId('authn-user-e2e-user')).toBeVisible();

  // Edit: a new password, and superuser.
  await page.getByTestId('authn-user-edit-e2e-user').click();
  await page.getByTestId('authn-user-edit-password').fill('e2e-pass-2');
  await page.getByTestId('authn-user-edit-superuser').check();
  await page.getByTestId('authn-user-edit-save').click();
  await expect(page.getByTestId('flash-success')).toContainText('User e2e-user updated');
  await expect(page.getByTestId('authn-user-superuser-e2e-user')).toHaveText('yes');
  expect(await stompConnect({ login: 'e2e-user', passcode: 'e2e-pass' })).toMatch(/^ERROR/);
  expect(await stompConnect({ login: 'e2e-user', passcode: 'e2e-pass-2' })).toMatch(/^CONNECTED/);

  // Delete asks first.
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('authn-user-delete-csv1').click();
  await expect(page.getByTestId('flash-success')).toHaveText('User csv1 deleted.');
  await expect(page.getByTestId('authn-user-csv1')).toHaveCount(0);
  await expect(page.getByTestId('authn-users-count')).toHaveText('2 users');
  expect(await stompConnect({ login: 'csv1', passcode: 'pw1' })).toMatch(/^ERROR/);

  // Narrow screens: nothing wider than the window.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.reload();
  await expect(page.getByTestId('authn-users-table')).toBeVisible();
  expect(await overflowX(page)).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 800 });

  // Remove the authenticator (it asks first): anonymous clients are accepted again.
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('authn-remove').click();
  await expect(page.getByTestId('flash-success')).toHaveText('Authenticator removed.');
  await expect(page.getByTestId('authn-backend')).toHaveValue('');
  await expect(page.getByTestId('authn-users')).toHaveCount(0);
  expect((await api('GET', API)).status).toBe(204);
  expect(await stompConnect({})).toMatch(/^CONNECTED/);
});

test('the HTTP authenticator is tried with one real request before it is saved', async ({ page }) => {
  const auth = await startAuthServer();
  try {
    await page.goto(PAGE);
    await page.getByTestId('authn-backend').selectOption('http');
    await expect(page.getByTestId('authn-body-1-value')).toHaveValue('${password}');
    await page.getByTestId('authn-url').fill(`${auth.url}/auth`);
    await page.getByTestId('authn-headers-add').click();
    await page.getByTestId('authn-header-0-key').fill('x-api-token');
    await page.getByTestId('authn-header-0-value').fill('s3cret');

    await page.getByTestId('authn-test-username').fill('ann');
    await page.getByTestId('authn-test-password').fill('good');
    await page.getByTestId('authn-test-clientid').fill('c1');
    await page.getByTestId('authn-test-run').click();
    await expect(page.getByTestId('authn-test-decision')).toHaveText('allow');
    await expect(page.getByTestId('authn-test-status')).toHaveText('200');
    await expect(page.getByTestId('authn-test-body')).toContainText('"allow"');
    await expect(page.getByTestId('authn-test-elapsed')).toHaveText(/\d/);
    expect(auth.seen.at(-1)).toMatchObject({ token: 's3cret', username: 'ann', password: 'good', clientid: 'c1' });

    await page.getByTestId('authn-test-password').fill('bad');
    await page.getByTestId('authn-test-run').click();
    await expect(page.getByTestId('authn-test-decision')).toHaveText('deny');

    // A placeholder the authenticator does not know: refused next to its row.
    await page.getByTestId('authn-header-0-value').fill('${nobody}');
    await page.getByTestId('authn-save').click();
    await expect(page.getByTestId('authn-error-header-0')).toContainText('unknown placeholder ${nobody}');
    await page.getByTestId('authn-url').fill('ftp://auth.example');
    await page.getByTestId('authn-header-0-value').fill('s3cret');
    await page.getByTestId('authn-save').click();
    await expect(page.getByTestId('authn-error-url')).toContainText('is not http or https');
    await expect(page.getByTestId('authn-error-header-0')).toHaveCount(0);

    // Nothing was stored by testing or by the refused saves.
    expect((await api('GET', API)).status).toBe(204);
    expect(await stompConnect({})).toMatch(/^CONNECTED/);
  } finally {
    auth.server.closeAllConnections();
    await new Promise((r) => auth.server.close(r));
  }
});

test('the gateway page lists its listeners and links to their authentication', async ({ page }) => {
  await page.goto('/gateways/stomp/authentication');
  await expect(page.getByTestId('authn-title')).toHaveText('Authentication of stomp');
  await expect(page.getByTestId(`authn-listener-by-${LISTENER}`)).toHaveText("the gateway's");
  await page.getByTestId(`authn-listener-link-${LISTENER}`).click();
  await expect(page).toHaveURL(new RegExp(`${PAGE}$`));
  await expect(page.getByTestId('authn-crumb-gateway-authn')).toHaveAttribute('href', '/gateways/stomp/authentication');
});

/** stompConnect sends CONNECT (with login and passcode when given) and returns the first frame. */
function stompConnect(creds: { login?: string; passcode?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(STOMP_PORT, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no frame from STOMP on ${STOMP_PORT}: ${JSON.stringify(got)}`));
    }, 5_000);
    const done = (frame: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(frame);
    };
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => {
      let frame = 'CONNECT\naccept-version:1.2\nhost:xgate\n';
      if (creds.login !== undefined) frame += `login:${creds.login}\n`;
      if (creds.passcode !== undefined) frame += `passcode:${creds.passcode}\n`;
      sock.write(frame + '\n\0');
    });
    sock.on('data', (d) => {
      got += d.toString();
      const end = got.indexOf('\0');
      if (end >= 0) done(got.slice(0, end));
    });
    sock.on('close', () => done(got));
  });
}

/** api calls the main server's JSON API as admin. */
async function api(method: string, path: string): Promise<{ status: number; body: string }> {
  const server = mainServer();
  const login = await fetch(`${server.url}/api/v5/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: server.password }),
  });
  const { token } = (await login.json()) as { token: string };
  const resp = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: resp.status, body: await resp.text() };
}

async function removeAuthenticator(): Promise<void> {
  const { status } = await api('DELETE', API);
  if (status !== 204 && status !== 404) throw new Error(`removing the listener's authenticator: ${status}`);
}

/** overflowX is how many pixels the page is wider than the window. */
function overflowX(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** startAuthServer is an HTTP authentication service: allow for ann/good with the token. */
async function startAuthServer(): Promise<{ url: string; server: HTTPServer; seen: Record<string, string>[] }> {
  const seen: Record<string, string>[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let fields: Record<string, string> = {};
      try {
        fields = JSON.parse(body);
      } catch {
        // not JSON: no fields
      }
      const token = String(req.headers['x-api-token'] ?? '');
      seen.push({ ...fields, token });
      res.setHeader('content-type', 'application/json');
      const allow = token === 's3cret' && fields.username === 'ann' && fields.password === 'good';
      res.end(JSON.stringify({ result: allow ? 'allow' : 'deny' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, server, seen };
}
