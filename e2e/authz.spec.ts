// The authorization page against the real binary: a deny rule added in the browser refuses
// a real STOMP client's SEND, the tester names that rule, rules are reordered from the
// keyboard. Every rule made here has a comment starting with "e2e-authz", and is deleted at
// the end (through the page, and again through the API should a test fail), so that the
// other specs are not affected.
import { connect, Socket } from 'node:net';
import { Page } from '@playwright/test';
import { expect, login, mainServer, test } from './fixtures';

const STOMP_PORT = 61613; // the main server's seeded STOMP listener
const MARK = 'e2e-authz';

test.beforeEach(async ({ page }) => {
  await login(page);
  await page.getByTestId('nav-authorization').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Authorization');
});

test.afterAll(async () => {
  await deleteRulesThroughAPI();
});

test('a deny rule added on the page refuses a STOMP SEND, and the tester shows it deciding', async ({ page }) => {
  const topic = `e2e/authz/${Date.now()}`;
  const comment = `${MARK} deny ${topic}`;

  // The client is connected before the rule exists: the rule applies to its next SEND.
  const client = await stompConnect();
  try {
    expect(await stompSend(client, topic)).toMatch(/^RECEIPT\n/);

    await page.getByTestId('authz-add-rule').click();
    await expect(page.getByTestId('authz-rule-editor')).toHaveAttribute('data-state', 'open');
    await page.getByTestId('authz-form-permission').selectOption('deny');
    await page.getByTestId('authz-form-action').selectOption('publish');
    await page.getByTestId('authz-form-comment').fill(comment);
    await page.getByTestId('authz-form-position').selectOption('front');

    // A bad filter is refused, with the message next to the topics and nothing stored.
    await page.getByTestId('authz-form-topics').fill(`${topic}\nbad/#/x`);
    await page.getByTestId('authz-form-save').click();
    await expect(page.getByTestId('authz-form-topics-error')).toContainText('line 2');
    await expect(page.getByTestId('authz-form-topics')).toHaveAttribute('aria-invalid', 'true');
    await expect(ruleRow(page, comment)).toHaveCount(0);

    await page.getByTestId('authz-form-topics').fill(topic);
    await page.getByTestId('authz-form-save').click();
    await expect(page.getByTestId('authz-rule-editor')).toHaveAttribute('data-state', 'closed');
    await expect(page.getByTestId('flash-success')).toHaveText('Rule added.');
    const row = ruleRow(page, comment);
    await expect(row).toHaveCount(1);
    const id = (await row.getAttribute('data-rule-id'))!;
    await expect(page.getByTestId(`authz-row-permission-${id}`)).toHaveText('deny');
    await expect(page.getByTestId(`authz-row-topics-${id}`)).toHaveText(topic);

    // The real client is refused.
    const refused = await stompSend(client, topic);
    expect(refused).toMatch(/^ERROR\n/);
    expect(refused).toContain(`message:Insufficient permissions for ${topic}\n`);

    // The tester shows the decision and the rule, highlighted in the list.
    await page.getByTestId('authz-tester-listener').fill('stomp:tcp:default');
    await page.getByTestId('authz-tester-action').selectOption('publish');
    await page.getByTestId('authz-tester-topic').fill(topic);
    await page.getByTestId('authz-tester-submit').click();
    const verdict = page.getByTestId('authz-verdict');
    await expect(verdict).toHaveAttribute('data-result', 'deny');
    await expect(verdict).toHaveAttribute('data-source', 'rules');
    await expect(verdict).toHaveAttribute('data-rule-id', id);
    await expect(page.getByTestId('authz-verdict-result')).toHaveText('Denied');
    await expect(page.getByTestId(`authz-row-${id}`)).toHaveAttribute('data-highlight', 'true');
    await expect(page.getByTestId(`authz-row-decided-${id}`)).toBeVisible();

    // Another topic is not this rule's.
    await page.getByTestId('authz-tester-topic').fill(`${topic}-other`);
    await page.getByTestId('authz-tester-submit').click();
    await expect(page.getByTestId('authz-verdict')).not.toHaveAttribute('data-rule-id', id);
    await expect(page.getByTestId(`authz-row-${id}`)).not.toHaveAttribute('data-highlight', 'true');

    // Deleted through the page, the rule no longer refuses.
    page.once('dialog', (d) => d.accept());
    await page.getByTestId(`authz-row-delete-${id}`).click();
    await expect(page.getByTestId(`authz-row-${id}`)).toHaveCount(0);
    await expect(page.getByTestId('flash-success')).toHaveText('Rule deleted.');
    // A client refused once got an ERROR and was closed (STOMP); a new one is allowed.
    const again = await stompConnect();
    try {
      expect(await stompSend(again, topic)).toMatch(/^RECEIPT\n/);
    } finally {
      again.destroy();
    }
  } finally {
    client.destroy();
  }
});

test('rules are reordered and edited from the keyboard', async ({ page }) => {
  const first = `${MARK} order one ${Date.now()}`;
  const second = `${MARK} order two ${Date.now()}`;
  for (const comment of [first, second]) {
    await page.getByTestId('authz-add-rule').click();
    // The editor takes the focus: the form is filled without the mouse.
    await expect(page.getByTestId('authz-form-permission')).toBeFocused();
    await page.getByTestId('authz-form-topics').fill(`e2e/order/${Date.now()}`);
    await page.getByTestId('authz-form-comment').fill(comment);
    await page.getByTestId('authz-form-comment').press('Tab'); // to the place select
    await page.keyboard.press('Tab'); // to the save button
    await expect(page.getByTestId('authz-form-save')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('authz-rule-editor')).toHaveAttribute('data-state', 'closed');
    await expect(ruleRow(page, comment)).toHaveCount(1);
  }
  const id1 = (await ruleRow(page, first).getAttribute('data-rule-id'))!;
  const id2 = (await ruleRow(page, second).getAttribute('data-rule-id'))!;
  const position = async (id: string) => Number((await page.getByTestId(`authz-row-position-${id}`).textContent())!.slice(1));
  const p1 = await position(id1);
  expect(await position(id2)).toBe(p1 + 1);

  // Up on the second, with the keyboard: it moves before the first and keeps the focus.
  await page.getByTestId(`authz-row-up-${id2}`).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId(`authz-row-position-${id2}`)).toHaveText(`#${p1}`);
  await expect(page.getByTestId(`authz-row-position-${id1}`)).toHaveText(`#${p1 + 1}`);
  if (p1 === 1) {
    // At the top, up is disabled: the row's down button has the focus, and moves it back.
    await expect(page.getByTestId(`authz-row-down-${id2}`)).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId(`authz-row-position-${id2}`)).toHaveText('#2');
    // Now last, its down button is disabled: up has the focus.
    await expect(page.getByTestId(`authz-row-up-${id2}`)).toBeFocused();
  } else {
    await expect(page.getByTestId(`authz-row-up-${id2}`)).toBeFocused();
  }

  // Edit: the form shows the rule; the change is saved in place.
  await page.getByTestId(`authz-row-edit-${id1}`).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('authz-form-comment')).toHaveValue(first);
  await page.getByTestId('authz-form-who-kind').selectOption('username');
  await expect(page.getByTestId('authz-form-who-json')).toBeHidden();
  await page.getByTestId('authz-form-who-value').fill('e2e-user');
  await page.getByTestId('authz-form-action').selectOption('subscribe');
  await page.getByTestId('authz-form-retain').selectOption('true');
  await page.getByTestId('authz-form-save').click();
  // A subscribe rule cannot restrict retain: refused next to the field.
  await expect(page.getByTestId('authz-form-retain-error')).toContainText('publish only');
  await page.getByTestId('authz-form-retain').selectOption('all');
  await page.getByTestId('authz-form-save').click();
  await expect(page.getByTestId('authz-rule-editor')).toHaveAttribute('data-state', 'closed');
  await expect(page.getByTestId(`authz-row-who-${id1}`)).toHaveText('username = e2e-user');
  await expect(page.getByTestId(`authz-row-action-${id1}`)).toHaveText('subscribe');

  for (const id of [id1, id2]) {
    page.once('dialog', (d) => d.accept());
    await page.getByTestId(`authz-row-delete-${id}`).click();
    await expect(page.getByTestId(`authz-row-${id}`)).toHaveCount(0);
  }
});

test('the page works 390 px wide', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  for (const id of ['authz-add-rule', 'authz-settings-save', 'authz-tester-submit', 'authz-import-submit']) {
    await expect(page.getByTestId(id)).toBeVisible();
  }
  await page.getByTestId('authz-add-rule').click();
  await expect(page.getByTestId('authz-form-save')).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});

function ruleRow(page: Page, comment: string) {
  return page.locator('[data-testid^="authz-row-"][data-rule-id]', { has: page.getByText(comment, { exact: true }) });
}

/** stompConnect opens a STOMP 1.2 session on the main server's STOMP listener. */
function stompConnect(): Promise<Socket> {
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
    sock.on('connect', () => sock.write('CONNECT\naccept-version:1.2\nhost:xgate\n\n\0'));
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes('\0')) {
        clearTimeout(timer);
        sock.off('data', onData);
        if (got.startsWith('CONNECTED')) resolve(sock);
        else reject(new Error(`CONNECT refused: ${JSON.stringify(got)}`));
      }
    };
    sock.on('data', onData);
  });
}

let receipts = 0;

/** stompSend SENDs to topic asking for a receipt and returns the answer frame (RECEIPT or ERROR). */
function stompSend(sock: Socket, topic: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      sock.off('data', onData);
      reject(new Error(`no answer to SEND ${topic}: ${JSON.stringify(got)}`));
    }, 5_000);
    const onData = (d: Buffer) => {
      got += d.toString();
      const frame = got.replace(/^[\r\n]+/, ''); // heart-beats
      const end = frame.indexOf('\0');
      if (end >= 0) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve(frame.slice(0, end));
      }
    };
    sock.on('data', onData);
    sock.write(`SEND\ndestination:${topic}\nreceipt:r${++receipts}\n\nfrom the e2e test\0`);
  });
}

/** deleteRulesThroughAPI removes every rule this spec made, should a test have failed. */
async function deleteRulesThroughAPI(): Promise<void> {
  const { url, password } = mainServer();
  const login = await fetch(`${url}/api/v5/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (!login.ok) return;
  const { token } = await login.json();
  const auth = { Authorization: `Bearer ${token}` };
  const list = await (await fetch(`${url}/api/v5/authorization/rules`, { headers: auth })).json();
  for (const rule of list.data ?? []) {
    if (String(rule.comment ?? '').startsWith(MARK)) {
      await fetch(`${url}/api/v5/authorization/rules/${rule.id}`, { method: 'DELETE', headers: auth });
    }
  }
}
