// The events page against the real binary: a real STOMP client's login appears in the live
// list, the type filter applies on the server, pause holds events back, and a webhook added
// on the page delivers to a real HTTP server, its counters shown.
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { Page } from '@playwright/test';
import { expect, login, test } from './fixtures';

const STOMP_PORT = 61613; // the main server's seeded STOMP listener

test.beforeEach(async ({ page }) => {
  await login(page);
  await page.getByTestId('nav-events').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Events');
  await expect(page.getByTestId('events-status')).toHaveAttribute('data-state', 'live');
});

function rows(page: Page, user: string, type?: string) {
  const typeSel = type ? `[data-type="${type}"]` : '';
  return page.locator(`[data-testid="events-row"][data-username="${user}"]${typeSel}`);
}

test('a STOMP login appears live; the type filter and pause apply', async ({ page }) => {
  const user = `e2e-ev-${Date.now()}`;
  // A marker in the page survives only if the page is never reloaded.
  await page.evaluate(() => ((window as any).e2eMarker = 'same page'));

  const first = await stompConnect(user);
  await expect(rows(page, user, 'client.connected')).toHaveCount(1);
  const row = rows(page, user, 'client.connected');
  await expect(row.locator('td[data-label="Gateway"]')).toHaveText('stomp');
  await expect(row.locator('td[data-label="Peer"]')).toHaveText(/^127\.0\.0\.1:\d+$/);
  // Newest first: client.connected came after client.connect, so it is above it.
  await expect(rows(page, user, 'client.connect')).toHaveCount(1);
  const types = await page
    .locator(`[data-testid="events-row"][data-username="${user}"]`)
    .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
  expect(types.indexOf('client.connected')).toBeLessThan(types.indexOf('client.connect'));

  // Only disconnections: the list starts again, the stream is filtered on the server.
  await page.getByTestId('events-filter-type-client.disconnected').check();
  await expect(page).toHaveURL(/\/events\?type=client\.disconnected$/);
  await expect(page.getByTestId('events-status')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('events-list').locator('tr')).toHaveCount(0);
  const second = await stompConnect(`${user}-2`); // its login is not shown
  first.destroy();
  await expect(rows(page, user, 'client.disconnected')).toHaveCount(1);
  await expect(page.locator('[data-testid="events-row"]:not([data-type="client.disconnected"])')).toHaveCount(0);
  await expect(rows(page, `${user}-2`)).toHaveCount(0);

  // Paused, events wait; resumed, they are shown.
  await page.getByTestId('events-pause').click();
  await expect(page.getByTestId('events-pause')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('events-status')).toHaveAttribute('data-state', 'paused');
  second.destroy();
  await expect(page.getByTestId('events-count')).toContainText(/[1-9]\d* waiting/);
  await expect(rows(page, `${user}-2`)).toHaveCount(0);
  await page.getByTestId('events-pause').click();
  await expect(page.getByTestId('events-pause')).toHaveAttribute('aria-pressed', 'false');
  await expect(rows(page, `${user}-2`, 'client.disconnected')).toHaveCount(1);

  // The filter is in the address: a reload keeps it.
  expect(await page.evaluate(() => (window as any).e2eMarker)).toBe('same page');
  await page.reload();
  await expect(page.getByTestId('events-filter-type-client.disconnected')).toBeChecked();
  await expect(page.getByTestId('events-filter-type-client.connected')).not.toBeChecked();
});

test('a webhook added on the page delivers to a real server, with its counters', async ({ page }) => {
  const hook = await startHookServer();
  const name = `e2e-hook-${Date.now()}`;
  const user = `e2e-wh-${Date.now()}`;
  try {
    await page.getByTestId('events-add-webhook').click();
    await expect(page.getByTestId('events-webhook-editor')).toHaveAttribute('data-state', 'open');
    await page.getByTestId('events-webhook-name').fill(name);
    // A bad URL is refused next to the field.
    await page.getByTestId('events-webhook-url').fill('ftp://127.0.0.1/hook');
    await page.getByTestId('events-webhook-save').click();
    await expect(page.getByTestId('events-webhook-url-error')).toContainText('http://');
    await expect(page.getByTestId(`events-webhook-${name}`)).toHaveCount(0);

    await page.getByTestId('events-webhook-url').fill(`${hook.url}/hook`);
    await expect(page.getByTestId('events-webhook-event-client.connected')).toBeChecked();
    await page.getByTestId('events-webhook-headers').fill('X-E2E: yes');
    await page.getByTestId('events-webhook-save').click();
    await expect(page.getByTestId('events-webhook-editor')).toHaveAttribute('data-state', 'closed');
    await expect(page.getByTestId(`events-webhook-state-${name}`)).toHaveText('running');

    const client = await stompConnect(user);
    try {
      const got = await hook.waitFor((ev) => ev.username === user);
      expect(got.event.type).toBe('client.connected');
      expect(got.headers['x-e2e']).toBe('yes');
      // The list refreshes its counters by itself.
      await expect(page.getByTestId(`events-webhook-delivered-${name}`)).not.toHaveText('0', { timeout: 15_000 });
      await expect(page.getByTestId(`events-webhook-failed-${name}`)).toHaveText('0');
    } finally {
      client.destroy();
    }

    page.once('dialog', (d) => d.accept());
    await page.getByTestId(`events-webhook-delete-${name}`).click();
    await expect(page.getByTestId(`events-webhook-${name}`)).toHaveCount(0);
  } finally {
    await hook.close();
  }
});

test('the page works 390 px wide', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await expect(page.getByTestId('events-status')).toHaveAttribute('data-state', 'live');
  const user = `e2e-narrow-${Date.now()}`;
  const client = await stompConnect(user);
  try {
    await expect(rows(page, user, 'client.connected')).toBeVisible();
  } finally {
    client.destroy();
  }
  for (const id of ['events-pause', 'events-filter-apply', 'events-add-webhook']) {
    await expect(page.getByTestId(id)).toBeVisible();
  }
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});

/** stompConnect opens a STOMP 1.2 session as user on the main server's STOMP listener. */
function stompConnect(user: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(STOMP_PORT, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no CONNECTED: ${JSON.stringify(got)}`));
    }, 5_000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => sock.write(`CONNECT\naccept-version:1.2\nhost:xgate\nlogin:${user}\npasscode:x\n\n\0`));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.startsWith('CONNECTED')) {
        clearTimeout(timer);
        resolve(sock);
      }
    });
  });
}

interface HookRequest {
  event: any;
  headers: IncomingMessage['headers'];
}

/** startHookServer is a webhook receiver on a free loopback port. */
async function startHookServer() {
  const received: HookRequest[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        received.push({ event: JSON.parse(body), headers: req.headers });
      } catch {
        // not an event
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async waitFor(match: (ev: any) => boolean): Promise<HookRequest> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const found = received.find((r) => match(r.event));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`the webhook server got no matching event: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
