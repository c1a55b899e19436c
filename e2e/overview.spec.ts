import { connect, Socket } from 'node:net';
import { expect, login, test } from './fixtures';

test.beforeEach(async ({ page }) => {
  await login(page);
});

test('every gateway is listed with its running listeners', async ({ page }) => {
  await expect(page.locator('[data-testid^="gateway-"][data-status]')).toHaveCount(3);
  for (const name of ['stomp', 'mqttsn', 'coap']) {
    await expect(page.getByTestId(`gateway-status-${name}`)).toHaveText('running');
    await expect(page.getByTestId(`gateway-connections-${name}`)).toHaveText(/^\d+$/);
  }
  await expect(page.getByTestId('listener-stomp:tcp:default')).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('listener-mqttsn:udp:default')).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('listener-coap:udp:default')).toHaveAttribute('data-state', 'running');
});

test('charts are drawn and the numbers follow a real client without a reload', async ({ page }) => {
  for (const id of ['connections', 'messages']) {
    await expect(page.getByTestId(`chart-${id}`)).toHaveAttribute('data-drawn', 'true');
    await expect(page.getByTestId(`chart-${id}`).locator('canvas')).toBeVisible();
  }
  // A marker in the page survives only if the page is never reloaded.
  await page.evaluate(() => ((window as any).e2eMarker = 'same page'));
  const before = Number(await page.getByTestId('gateway-connections-stomp').textContent());

  const client = await stompConnect(61613);
  try {
    await expect(page.getByTestId('gateway-connections-stomp')).toHaveText(String(before + 1), { timeout: 15_000 });
    await expect(page.getByTestId('listener-connections-stomp:tcp:default')).toHaveText(String(before + 1));
    // The chart has taken samples since the page loaded.
    await expect
      .poll(async () => Number(await page.getByTestId('chart-connections').getAttribute('data-points')), { timeout: 15_000 })
      .toBeGreaterThan(1);
  } finally {
    client.destroy();
  }
  await expect(page.getByTestId('gateway-connections-stomp')).toHaveText(String(before), { timeout: 15_000 });
  expect(await page.evaluate(() => (window as any).e2eMarker)).toBe('same page');
});

/** stompConnect opens a STOMP 1.2 session on the main server's STOMP tcp listener. */
function stompConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no CONNECTED from STOMP on ${port}: ${JSON.stringify(got)}`));
    }, 5_000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => sock.write('CONNECT\naccept-version:1.2\nhost:xgate\n\n\0'));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.startsWith('CONNECTED')) {
        clearTimeout(timer);
        resolve(sock);
      }
    });
  });
}
