import { expect, freshServer, login, test } from './fixtures';

// The "fresh" server was started without XGATE_ADMIN_PASSWORD, so its admin has EMQX's
// default password "public" and every page warns about it.
test('a banner warns while the admin still has the default password', async ({ page }) => {
  const server = freshServer();
  await login(page, server);
  await expect(page.getByTestId('default-password-banner')).toBeVisible();
  await expect(page.getByTestId('default-password-banner')).toContainText('default password');
  // Its gateways could not take the standard ports (the main server holds them): the
  // overview says so per listener instead of failing.
  await expect(page.getByTestId('gateway-stomp')).toBeVisible();
});
