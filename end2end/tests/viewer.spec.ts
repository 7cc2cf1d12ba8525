import { expect, test, type Frame, type Page } from '@playwright/test';
import { BASE_URL, SIM_ADMIN_URL, sim, simCompany } from '../fixtures';

const ARTIFACTS = 'artifacts';

/** The droplet's frame inside the simulated Fluid admin, once it shows `path`. */
async function dropletFrame(page: Page, path: string, hydrates = true): Promise<Frame> {
  await expect
    .poll(() => page.frames().find((f) => f.url().startsWith(`${BASE_URL}${path}`))?.url() ?? '')
    .not.toBe('');
  const frame = page.frames().find((f) => f.url().startsWith(`${BASE_URL}${path}`));
  if (!frame) throw new Error(`no frame at ${path}`);
  // A frame on another site than its page has its own cache partition: the first load compiles
  // the WASM afresh.
  if (hydrates) await expect(frame.locator('[data-hydrated="true"]').first()).toBeVisible({ timeout: 20_000 });
  else await expect(frame.locator('h1')).toBeVisible();
  return frame;
}

test.afterEach(async () => {
  await sim('POST', '/chaos', {});
});

// Fluid's admin is on `localhost`, the droplet on `127.0.0.1`: two sites, so the droplet's session
// cookie is a third-party cookie in the frame, as in production.
test('inside Fluid\'s admin on another site the page opens writable, keeps no token in its address, and stays writable after a reload', async ({ page }) => {
  const dri = simCompany();
  // Routed (so not cached), the frame is busy enough that Chromium never gives it an idle period:
  // before the shell set a deadline on `requestIdleCallback`, its islands never hydrated here.
  await page.route(`${BASE_URL}/**`, (route) => route.continue());
  await page.goto(`${SIM_ADMIN_URL}/_sim/admin?dri=${dri}`);
  const overview = await dropletFrame(page, '/?dri=');
  expect(overview.url()).not.toContain('session_token');
  expect(overview.url()).toBe(`${BASE_URL}/?dri=${dri}`);
  await expect(overview.getByTestId('signed-in')).toContainText('Sam Rivera (Echo Outfitters)');

  await overview.getByRole('link', { name: 'Shipping options' }).click();
  const shipping = await dropletFrame(page, '/shipping?dri=');
  await shipping.getByLabel('Title').fill('Framed Express');
  await shipping.getByLabel('Price').fill('14');
  await shipping.getByRole('button', { name: 'Add option' }).click();
  await expect(shipping.getByRole('status')).toHaveText('Saved.');
  await expect(shipping.getByTestId('history')).toContainText('Sam Rivera (Echo Outfitters) added a shipping option: Framed Express');
  await page.screenshot({ path: `${ARTIFACTS}/viewer-framed-writable.png`, fullPage: true });

  // The frame reloads without any token: the partitioned session cookie keeps it writable.
  await shipping.goto(`${BASE_URL}/shipping?dri=${dri}`);
  const reloaded = await dropletFrame(page, '/shipping?dri=');
  await expect(reloaded.getByTestId('signed-in')).toBeVisible();
  const row = reloaded.locator('tr[data-option="Framed Express"]');
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(reloaded.locator('tr[data-option="Framed Express"]')).toHaveCount(0);
  await expect(reloaded.getByTestId('history')).toContainText('deleted a shipping option: Framed Express');
});

test('opened directly with only the DRI, the page is read-only and offers the sign-in', async ({ page }) => {
  const dri = simCompany();
  await page.goto(`/shipping?dri=${dri}`);
  await expect(page.getByTestId('read-only')).toContainText('sign in with Fluid to make changes');
  await expect(page.getByTestId('sign-in')).toHaveText('Sign in with Fluid');
  await expect(page.getByRole('heading', { name: 'Add a shipping option' })).toHaveCount(0);
  await page.screenshot({ path: `${ARTIFACTS}/viewer-read-only.png`, fullPage: true });
});

test('when Fluid sends no token, "Sign in with Fluid" in the frame signs the merchant in', async ({ page }) => {
  const dri = simCompany();
  await sim('POST', '/chaos', { viewer: 'omitted' });
  await page.goto(`${SIM_ADMIN_URL}/_sim/admin?dri=${dri}`);
  const frame = await dropletFrame(page, '/?dri=', false);
  await expect(frame.getByTestId('read-only')).toBeVisible();
  await sim('POST', '/chaos', {});
  await frame.getByTestId('sign-in').click();
  // Through Fluid's /droplet/auth and back: the same frame, signed in, at the page it left.
  await expect(frame.getByTestId('signed-in')).toContainText('Sam Rivera', { timeout: 15_000 });
  expect(frame.url()).toBe(`${BASE_URL}/?dri=${dri}`);
  await page.screenshot({ path: `${ARTIFACTS}/viewer-signed-in-by-handshake.png`, fullPage: true });
});

test('a token for another company opens the page read-only', async ({ page }) => {
  const dri = simCompany();
  await sim('POST', '/chaos', { viewer: 'other_company' });
  await page.goto(`${SIM_ADMIN_URL}/_sim/admin?dri=${dri}`);
  const frame = await dropletFrame(page, '/?dri=', false);
  expect(frame.url()).not.toContain('session_token');
  await expect(frame.getByTestId('read-only')).toBeVisible();
});
