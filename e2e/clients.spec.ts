// The clients page against real STOMP clients on the seeded STOMP listener (61613): find a
// client by its username, open it, subscribe it from the dashboard and see a message
// reach it, kick it.
import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { Page } from '@playwright/test';
import { expect, login, test } from './fixtures';

const STOMP_PORT = 61613;

/** A raw STOMP 1.2 connection that records every frame it receives. */
class Stomp {
  frames: { command: string; headers: Record<string, string>; body: string }[] = [];
  closed = false;
  private buf = '';

  private constructor(readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('utf8');
      for (let i = this.buf.indexOf('\0'); i >= 0; i = this.buf.indexOf('\0')) {
        const raw = this.buf.slice(0, i).replace(/^[\r\n]+/, '');
        this.buf = this.buf.slice(i + 1);
        const [head, ...rest] = raw.split('\n\n');
        const [command, ...lines] = head.split('\n');
        const headers: Record<string, string> = {};
        for (const l of lines) {
          const c = l.indexOf(':');
          if (c > 0 && !(l.slice(0, c) in headers)) headers[l.slice(0, c)] = l.slice(c + 1);
        }
        this.frames.push({ command, headers, body: rest.join('\n\n') });
      }
    });
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => {});
  }

  /** connect opens a session logged in as login and waits for CONNECTED. */
  static connect(login: string): Promise<Stomp> {
    return new Promise((resolve, reject) => {
      const sock = connect(STOMP_PORT, '127.0.0.1');
      const s = new Stomp(sock);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no CONNECTED from STOMP on ${STOMP_PORT}: ${JSON.stringify(s.frames)}`));
      }, 5_000);
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on('connect', () => s.send('CONNECT', { 'accept-version': '1.2', host: 'xgate', login }));
      sock.on('data', () => {
        if (s.frames.some((f) => f.command === 'CONNECTED')) {
          clearTimeout(timer);
          resolve(s);
        } else if (s.frames.some((f) => f.command === 'ERROR')) {
          clearTimeout(timer);
          reject(new Error(`STOMP refused the login: ${JSON.stringify(s.frames)}`));
        }
      });
    });
  }

  send(command: string, headers: Record<string, string>, body = ''): void {
    const head = Object.entries(headers).map(([k, v]) => `${k}:${v}`).join('\n');
    this.sock.write(`${command}\n${head}\n\n${body}\0`);
  }

  /** waitFor waits until a frame that matches arrives. */
  async waitFor(match: (f: Stomp['frames'][number]) => boolean, what: string) {
    await expect.poll(() => this.frames.some(match), { message: `${what}: got ${JSON.stringify(this.frames)}`, timeout: 10_000 }).toBe(true);
    return this.frames.find(match)!;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** openClients opens the STOMP gateway's clients page through the navigation. */
async function openClients(page: Page): Promise<void> {
  await page.getByTestId('nav-clients').click();
  await expect(page).toHaveURL(/\/clients/);
  if ((await page.getByTestId('clients-table-region').getAttribute('data-gateway')) !== 'stomp') {
    await page.getByTestId('clients-gateway').selectOption('stomp');
    await page.getByTestId('clients-gateway-show').click();
  }
  await expect(page.getByTestId('clients-table-region')).toHaveAttribute('data-gateway', 'stomp');
}

/** rowOf is the table row of the client logged in as username. */
function rowOf(page: Page, username: string) {
  return page.locator(`[data-testid^="client-row-"][data-username="${username}"]`);
}

test.beforeEach(async ({ page }) => {
  await login(page);
});

test('find a STOMP client, subscribe it from its page, see a message reach it, kick it', async ({ page }) => {
  const tag = randomBytes(4).toString('hex');
  const username = `e2e-user-${tag}`;
  const topic = `e2e/${tag}/news`;
  const clients: Stomp[] = [];
  try {
    await openClients(page);
    // Search first: the client connects afterwards and the live refresh shows it, the
    // search kept.
    await page.getByTestId('clients-search').fill(username);
    await expect(page.getByTestId('clients-empty')).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`[?&]q=${username}`));
    await page.evaluate(() => ((window as any).e2eMarker = 'same page'));

    const client = await Stomp.connect(username);
    clients.push(client);
    const row = rowOf(page, username);
    await expect(row).toBeVisible({ timeout: 10_000 });
    await expect(page.locator('[data-testid^="client-row-"]')).toHaveCount(1);
    await expect(page.getByTestId('clients-search')).toHaveValue(username);
    expect(await page.evaluate(() => (window as any).e2eMarker)).toBe('same page');
    const clientID = (await row.getAttribute('data-clientid'))!;
    // A keyboard user on a row keeps the focus through the refresh.
    const link = page.getByTestId(`client-link-${clientID}`);
    await link.focus();
    const updated = await page.getByTestId('clients-updated-at').getAttribute('datetime');
    await expect(page.getByTestId('clients-updated-at')).not.toHaveAttribute('datetime', updated!, { timeout: 10_000 });
    await expect(link).toBeFocused();
    await expect(page.getByTestId(`client-protocol-${clientID}`)).toHaveText('STOMP 1.2');
    await expect(page.getByTestId(`client-peer-${clientID}`)).toHaveText(/^127\.0\.0\.1:\d+$/);
    await expect(page.getByTestId(`client-subscriptions-${clientID}`)).toHaveText('0');

    // Its page.
    await page.getByTestId(`client-link-${clientID}`).click();
    await expect(page.getByTestId('client-title')).toHaveText(clientID);
    await expect(page.getByTestId('client-info-username')).toHaveText(username);
    await expect(page.getByTestId('client-subscriptions-empty')).toBeVisible();

    // A refused subscription shows its error next to the field and subscribes nothing.
    await page.getByTestId('client-subscribe-topic').fill('a/#/b');
    await page.getByTestId('client-subscribe-subid').fill('sub-1');
    await page.getByTestId('client-subscribe-submit').click();
    await expect(page.getByTestId('client-subscribe-topic-error')).toContainText('not a valid topic filter');
    await expect(page.getByTestId('client-subscribe-topic')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('client-subscriptions-empty')).toBeVisible();

    // Subscribe it, then a second real client publishes to the topic.
    await page.getByTestId('client-subscribe-topic').fill(topic);
    await page.getByTestId('client-subscribe-qos').selectOption('1');
    await page.getByTestId('client-subscribe-subid').fill('sub-1');
    await page.getByTestId('client-subscribe-submit').click();
    await expect(page.getByTestId(`client-sub-${topic}`)).toBeVisible();
    await expect(page.getByTestId(`client-sub-qos-${topic}`)).toHaveText('1');
    await expect(page.getByTestId('client-subscriptions-notice')).toContainText(topic);

    const publisher = await Stomp.connect(`e2e-pub-${tag}`);
    clients.push(publisher);
    publisher.send('SEND', { destination: topic, 'content-type': 'text/plain' }, 'hello from e2e');
    const msg = await client.waitFor((f) => f.command === 'MESSAGE', 'MESSAGE on the subscription added in the dashboard');
    expect(msg.headers.subscription).toBe('sub-1');
    expect(msg.headers.destination).toBe(topic);
    expect(msg.body).toBe('hello from e2e');

    // Remove it again, then add it back (the id is free again).
    await page.getByTestId(`client-sub-remove-${topic}`).click();
    await expect(page.getByTestId('client-subscriptions-empty')).toBeVisible();
    await page.getByTestId('client-subscribe-topic').fill(topic);
    await page.getByTestId('client-subscribe-subid').fill('sub-1');
    await page.getByTestId('client-subscribe-submit').click();
    await expect(page.getByTestId(`client-sub-${topic}`)).toBeVisible();

    // Kick it: confirmed, the connection closes and the list no longer has it.
    page.once('dialog', (d) => d.accept());
    await page.getByTestId('client-kick').click();
    await expect(page).toHaveURL(/\/gateways\/stomp\/clients$/);
    await expect(page.getByTestId('flash-success')).toHaveText(`Client ${clientID} was kicked.`);
    await client.waitFor((f) => f.command === 'ERROR', 'ERROR frame of the kick');
    await expect.poll(() => client.closed, { message: 'socket closed after the kick' }).toBe(true);
    await page.getByTestId('clients-search').fill(username);
    await expect(page.getByTestId('clients-empty')).toBeVisible();
    await expect(rowOf(page, username)).toHaveCount(0);
    // The publisher is untouched.
    expect(publisher.closed).toBe(false);
  } finally {
    clients.forEach((c) => c.close());
  }
});

test('a dismissed kick leaves the client connected', async ({ page }) => {
  const username = `e2e-stay-${randomBytes(4).toString('hex')}`;
  const client = await Stomp.connect(username);
  try {
    await openClients(page);
    await page.getByTestId('clients-search').fill(username);
    await rowOf(page, username).getByRole('link').click();
    page.once('dialog', (d) => d.dismiss());
    await page.getByTestId('client-kick').click();
    await expect(page.getByTestId('client-info-username')).toHaveText(username);
    await page.reload();
    await expect(page.getByTestId('client-info-username')).toHaveText(username);
    expect(client.closed).toBe(false);
  } finally {
    client.close();
  }
});

test('the clients pages work at 390 px', async ({ page }) => {
  const username = `e2e-narrow-${randomBytes(4).toString('hex')}`;
  const client = await Stomp.connect(username);
  try {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`/gateways/stomp/clients?q=${username}`);
    const row = rowOf(page, username);
    await expect(row).toBeVisible();
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await noOverflow()).toBe(true);
    // Keyboard: the client's link is reachable and opens its page.
    await row.getByRole('link').focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('client-info-username')).toHaveText(username);
    await expect(page.getByTestId('client-kick')).toBeVisible();
    await expect(page.getByTestId('client-subscribe-submit')).toBeVisible();
    expect(await noOverflow()).toBe(true);
  } finally {
    client.close();
  }
});
