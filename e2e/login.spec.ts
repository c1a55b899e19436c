import { expect, login, mainServer, test } from './fixtures';

test('a wrong password shows an error and logs nobody in', async ({ page, context }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-password').fill('not-the-password');
  await page.getByTestId('login-submit').click();

  await expect(page.getByTestId('login-error')).toHaveText('Wrong username or password.');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId('login-username')).toHaveValue('admin');
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === 'xgate_session')).toBeUndefined();
});

test('log in with the keyboard alone, then log out', async ({ page, context }) => {
  await page.goto('/login');
  // The username field has the focus; Tab reaches the password, Enter submits.
  await expect(page.getByTestId('login-username')).toBeFocused();
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('login-password')).toBeFocused();
  await page.keyboard.type(mainServer().password);
  await page.keyboard.press('Enter');

  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('current-user')).toHaveText('admin');
  await expect(page.getByTestId('nav-overview')).toHaveAttribute('aria-current', 'page');
  // This server was started with XGATE_ADMIN_PASSWORD: no warning.
  await expect(page.getByTestId('default-password-banner')).toHaveCount(0);

  const session = (await context.cookies()).find((c) => c.name === 'xgate_session');
  expect(session).toBeDefined();
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Strict');

  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login\?notice=logged_out$/);
  await expect(page.getByTestId('login-notice')).toHaveText('You have logged out.');

  // The old token is revoked: putting the cookie back does not log in again.
  await context.addCookies([session!]);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('a page asked for before logging in is shown after it', async ({ page }) => {
  await page.goto('/overview/live');
  await expect(page).toHaveURL(/\/login\?next=%2Foverview%2Flive$/);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-password').fill(mainServer().password);
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/overview\/live$/);
  await expect(page.getByTestId('gateway-stomp')).toBeVisible();
});

test.describe('at 390 px wide', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('the overview fits and every action is reachable', async ({ page }) => {
    await login(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const id of ['nav-overview', 'nav-gateways', 'nav-clients', 'nav-authorization', 'nav-events', 'logout']) {
      await expect(page.getByTestId(id)).toBeInViewport();
    }
    await expect(page.getByTestId('gateway-stomp')).toBeVisible();
    await expect(page.getByTestId('chart-connections').locator('canvas')).toBeVisible();
  });
});
