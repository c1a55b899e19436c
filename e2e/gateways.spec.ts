// The gateways pages: the list, and a gateway's listeners and settings, checked with real
// clients on the listeners the dashboard adds.
import { readFileSync } from 'node:fs';
import { connect, createServer, Server as NetServer, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Page } from '@playwright/test';
import { expect, login, test } from './fixtures';
import { freePort } from './server';

test.beforeEach(async ({ page }) => {
  await login(page);
  // Deleting a listener asks for confirmation.
  page.on('dialog', (d) => d.accept());
});

test('the gateways page lists every gateway and leads to each', async ({ page }) => {
  await page.getByTestId('nav-gateways').click();
  await expect(page.getByTestId('gateways-table')).toBeVisible();
  for (const name of ['stomp', 'mqttsn', 'coap']) {
    await expect(page.getByTestId(`gateways-status-${name}`)).toHaveText('running');
    await expect(page.getByTestId(`gateways-listeners-${name}`)).toHaveText(/^[1-9]\d*$/);
    await expect(page.getByTestId(`gateways-connections-${name}`)).toHaveText(/^\d+$/);
  }
  await page.getByTestId('gateways-link-coap').click();
  await expect(page.getByTestId('gw-name')).toHaveText('coap');
  await expect(page.getByTestId('settings-field-notify_type')).toHaveValue('qos');
  await expect(page.getByTestId('settings-help-notify_type')).toContainText('Default: qos');
});

test('add a STOMP listener, connect to it, change a setting, refuse a busy port, delete it', async ({ page }) => {
  await page.goto('/gateways/stomp');
  await expect(page.getByTestId('gw-name')).toHaveText('stomp');

  // Add a tcp listener on a free port.
  const port = await freePort();
  const id = 'stomp:tcp:e2e';
  await page.getByTestId('gw-listener-add').click();
  await page.getByTestId('lform-field-name').fill('e2e');
  await page.getByTestId('lform-field-type').selectOption('tcp');
  await expect(page.getByTestId('lform-section-tls')).toBeHidden();
  await page.getByTestId('lform-field-bind').fill(`127.0.0.1:${port}`);
  await page.getByTestId('lform-submit').click();
  await expect(page.getByTestId('gw-listeners-notice')).toHaveText(`Listener ${id} added.`);
  await expect(page.getByTestId(`gw-listener-${id}`)).toHaveAttribute('data-state', 'running');

  // A real STOMP client is accepted, and the table (polled) counts it.
  const client = await stompConnect(port);
  try {
    await expect(page.getByTestId(`gw-listener-connections-${id}`)).toHaveText('1', { timeout: 10_000 });
  } finally {
    client.destroy();
  }
  await expect(page.getByTestId(`gw-listener-connections-${id}`)).toHaveText('0', { timeout: 10_000 });

  // Change a setting: saved, applied, and still there after a reload.
  await setMaxHeaders(page, '25');
  await expect(page.getByTestId('settings-notice')).toContainText('saved');
  await page.reload();
  await expect(page.getByTestId('settings-field-frame.max_headers')).toHaveValue('25');
  // A value the gateway refuses comes back next to its field, and is not stored.
  await setMaxHeaders(page, '0');
  await expect(page.getByTestId('settings-error-frame.max_headers')).toContainText('must be at least 1');
  await expect(page.getByTestId('settings-field-frame.max_headers')).toHaveAttribute('aria-invalid', 'true');
  await page.reload();
  await expect(page.getByTestId('settings-field-frame.max_headers')).toHaveValue('25');
  await setMaxHeaders(page, '10');
  await expect(page.getByTestId('settings-notice')).toBeVisible();

  // A port in use: the error is next to the bind field and nothing is added.
  const busy = await listenSomewhere();
  try {
    const busyPort = (busy.address() as { port: number }).port;
    await page.getByTestId('gw-listener-add').click();
    await page.getByTestId('lform-field-name').fill('busy');
    await page.getByTestId('lform-field-bind').fill(`127.0.0.1:${busyPort}`);
    await page.getByTestId('lform-submit').click();
    await expect(page.getByTestId('lform-error-bind')).toContainText('address already in use');
    await expect(page.getByTestId('lform-field-bind')).toHaveValue(`127.0.0.1:${busyPort}`);
    await expect(page.getByTestId('gw-listener-stomp:tcp:busy')).toHaveCount(0);
    await page.getByTestId('lform-cancel').click();
    await expect(page.getByTestId('lform')).toHaveCount(0);
    await expect(page.getByTestId('gw-listener-stomp:tcp:busy')).toHaveCount(0);
  } finally {
    busy.close();
  }

  // Delete the listener: it stops accepting clients.
  await page.getByTestId(`gw-listener-delete-${id}`).click();
  await expect(page.getByTestId('gw-listeners-notice')).toHaveText(`Listener ${id} deleted.`);
  await expect(page.getByTestId(`gw-listener-${id}`)).toHaveCount(0);
  await expect(stompConnect(port)).rejects.toThrow();
});

test('an ssl listener with an uploaded certificate serves STOMP over TLS', async ({ page }) => {
  await page.goto('/gateways/stomp');
  const port = await freePort();
  const id = 'stomp:ssl:e2e-tls';
  await page.getByTestId('gw-listener-add').click();
  await page.getByTestId('lform-field-name').fill('e2e-tls');
  await page.getByTestId('lform-field-type').selectOption('ssl');
  await expect(page.getByTestId('lform-section-tls')).toBeVisible();
  // The form offers the appliance's generated certificate; upload the same files.
  const certPath = await page.getByTestId('lform-field-tls.certfile').inputValue();
  const keyPath = await page.getByTestId('lform-field-tls.keyfile').inputValue();
  expect(certPath).toMatch(/certs\/cert\.pem$/);
  await page.getByTestId('lform-field-tls.certfile_upload').setInputFiles({
    name: 'cert.pem', mimeType: 'application/x-pem-file', buffer: readFileSync(certPath),
  });
  await page.getByTestId('lform-field-tls.keyfile_upload').setInputFiles({
    name: 'key.pem', mimeType: 'application/x-pem-file', buffer: readFileSync(keyPath),
  });
  await page.getByTestId('lform-field-bind').fill(`127.0.0.1:${port}`);
  await page.getByTestId('lform-submit').click();
  await expect(page.getByTestId('gw-listeners-notice')).toHaveText(`Listener ${id} added.`);
  await expect(page.getByTestId(`gw-listener-${id}`)).toHaveAttribute('data-state', 'running');

  // The stored paths are the uploaded copies.
  await page.getByTestId(`gw-listener-edit-${id}`).click();
  await expect(page.getByTestId('lform-field-tls.certfile')).toHaveValue(/certs\/stomp-ssl-e2e-tls-certfile-[0-9a-f]+\.pem$/);
  await expect(page.getByTestId('lform-field-name')).toHaveAttribute('readonly', '');

  const sock = await stompConnect(port, true);
  sock.destroy();

  await page.getByTestId(`gw-listener-delete-${id}`).click();
  await expect(page.getByTestId(`gw-listener-${id}`)).toHaveCount(0);
});

test('MQTT-SN predefined topics are an editable table', async ({ page }) => {
  await page.goto('/gateways/mqttsn');
  const add = page.getByTestId('settings-add-row-predefined');
  await add.click();
  await page.getByTestId('settings-field-predefined.0.id').fill('7');
  await page.getByTestId('settings-field-predefined.0.topic').fill('e2e/seven');
  await add.click();
  await page.getByTestId('settings-field-predefined.1.id').fill('8');
  await page.getByTestId('settings-field-predefined.1.topic').fill('e2e/eight');
  await page.getByTestId('gw-settings-save').click();
  await expect(page.getByTestId('settings-notice')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('settings-field-predefined.1.topic')).toHaveValue('e2e/eight');

  // Remove the first row with the keyboard; the other stays.
  await page.getByTestId('settings-remove-row-predefined.0').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('settings-field-predefined.0.id')).toHaveCount(0);
  await page.getByTestId('gw-settings-save').click();
  await expect(page.getByTestId('settings-notice')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('settings-field-predefined.0.topic')).toHaveValue('e2e/eight');
  await expect(page.getByTestId('settings-field-predefined.1.topic')).toHaveCount(0);

  // Clean up: no predefined topics.
  await page.getByTestId('settings-remove-row-predefined.0').click();
  await page.getByTestId('gw-settings-save').click();
  await expect(page.getByTestId('settings-notice')).toBeVisible();
  await expect(page.getByTestId('settings-rows-predefined').locator('tr')).toHaveCount(0);
});

test('the gateway page works at 390 px', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/gateways/stomp');
  await expect(page.getByTestId('gw-listener-stomp:tcp:default')).toBeVisible();
  // Nothing sticks out of the page (wide tables scroll inside their own box).
  const outside = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.overflow-auto'))
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${el.getAttribute('data-testid') ?? ''}`),
  );
  expect(outside).toEqual([]);
  await page.getByTestId('gw-listener-add').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('lform-field-name')).toBeVisible();
  await expect(page.getByTestId('gw-settings-save')).toBeAttached();
});

async function setMaxHeaders(page: Page, value: string): Promise<void> {
  await page.getByTestId('settings-field-frame.max_headers').fill(value);
  await page.getByTestId('gw-settings-save').click();
}

/** listenSomewhere holds a free loopback TCP port until closed. */
function listenSomewhere(): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

/** stompConnect opens a STOMP 1.2 session on a loopback port (over TLS when tls). */
function stompConnect(port: number, tls = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock: Socket = tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no CONNECTED from STOMP on ${port}: ${JSON.stringify(got)}`));
    }, 5_000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on(tls ? 'secureConnect' : 'connect', () => sock.write('CONNECT\naccept-version:1.2\nhost:xgate\n\n\0'));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.startsWith('CONNECTED')) {
        clearTimeout(timer);
        resolve(sock);
      }
    });
  });
}
