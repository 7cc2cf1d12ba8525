import { readdirSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { ACME, ALONE_DIR, GONE } from '../fixtures';

const ARTIFACTS = 'artifacts';

/** Fails the test on any console error or CSP violation (a blocked hydration script shows up here). */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
}

async function hydrated(page: Page) {
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
}

test('the release binary, alone in an empty directory, serves a hydrated page', async ({ page }) => {
  const problems = watchConsole(page);
  const response = await page.goto(`/?dri=${ACME}`);
  expect(response?.status()).toBe(200);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Acme Widgets');
  await expect(page.locator('.page-header .badge')).toHaveText('active');
  // The embedded stylesheet is linked and applied.
  await expect(page.locator('html')).toHaveCSS('background-color', 'rgb(246, 247, 249)');
  await expect(page.locator('.page-header .badge')).toHaveCSS('color', 'rgb(18, 122, 62)');
  await page.screenshot({ path: `${ARTIFACTS}/overview.png`, fullPage: true });
  // Nothing but the binary and the database it created: every asset came from inside it.
  const files = readdirSync(ALONE_DIR).filter((name) => !name.startsWith('droplet.db'));
  expect(files).toEqual(['droplet']);
  expect(problems).toEqual([]);
});

test('refresh round-trips through a server function after hydration', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto(`/?dri=${ACME}`);
  await hydrated(page);
  const checkedAt = page.getByTestId('checked-at');
  const before = await checkedAt.textContent();
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/ui/refresh_registrations')),
    page.getByRole('button', { name: 'Refresh' }).click(),
  ]);
  expect(answer.status()).toBe(200);
  const snapshot = await answer.json();
  expect(JSON.stringify(snapshot)).not.toContain('dit_');
  await expect(checkedAt).toHaveText(`Checked at ${snapshot.checked_at} UTC`);
  expect(await checkedAt.textContent()).not.toBe(before);
  expect(problems).toEqual([]);
});

test('every page is deep-linkable and keeps the dri in its tabs', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto(`/?dri=${ACME}`);
  for (const [tab, heading, shot] of [
    ['Shipping options', 'Shipping options', 'shipping'],
    ['Callbacks', 'Callbacks', 'callbacks'],
    ['Events', 'Events', 'events'],
    ['Overview', 'Acme Widgets', 'overview-tabs'],
  ]) {
    await page.getByRole('link', { name: tab }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
    expect(new URL(page.url()).searchParams.get('dri')).toBe(ACME);
    await expect(page.getByRole('link', { name: tab })).toHaveAttribute('aria-current', 'page');
    await page.screenshot({ path: `${ARTIFACTS}/page-${shot}.png`, fullPage: true });
  }
  expect(problems).toEqual([]);
});

test('the overview draws the last 24 hours', async ({ page }) => {
  await page.goto(`/?dri=${ACME}`);
  await expect(page.getByTestId('activity-summary')).toContainText('Last 24 hours:');
  await expect(page.locator('svg.chart')).toBeVisible();
  expect(await page.locator('svg.chart rect').count()).toBe(48);
});

test('a page without a dri answers 400 and says how to open it', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(400);
  await expect(page.getByRole('heading', { name: 'Open this page from Fluid' })).toBeVisible();
  await page.screenshot({ path: `${ARTIFACTS}/missing-dri.png`, fullPage: true });
});

test('an unknown dri answers 404', async ({ page }) => {
  const response = await page.goto('/?dri=dri_nobody_installed_this');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Installation not found' })).toBeVisible();
  await page.screenshot({ path: `${ARTIFACTS}/unknown-dri.png`, fullPage: true });
});

test('an uninstalled installation answers 410', async ({ page }) => {
  const response = await page.goto(`/?dri=${GONE}`);
  expect(response?.status()).toBe(410);
  await expect(page.getByRole('heading', { name: 'The droplet was uninstalled' })).toBeVisible();
  await expect(page.locator('body')).not.toContainText('Gone Goods');
});

test('an unknown path answers the 404 page', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

test('pages carry a nonce CSP framed by Fluid only, same-origin referrers and nosniff', async ({ page }) => {
  const response = await page.goto(`/?dri=${ACME}`);
  const headers = response!.headers();
  const csp = headers['content-security-policy'];
  expect(csp).toContain("frame-ancestors https://*.fluid.app http://127.0.0.1:3199");
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).not.toContain('unsafe-inline');
  expect(headers['referrer-policy']).toBe('same-origin');
  expect(headers['x-content-type-options']).toBe('nosniff');
  // Browsers hide nonce attributes from the DOM, so look at the HTML as sent.
  const nonce = /'nonce-([^']+)'/.exec(csp)![1];
  expect(await response!.text()).toContain(`<script type="module" nonce="${nonce}">`);
  // A fresh nonce for every response.
  const again = (await page.request.get(`/?dri=${ACME}`)).headers()['content-security-policy'];
  expect(again).not.toBe(csp);
});

test('assets are embedded and served compressed', async ({ request }) => {
  for (const path of ['/pkg/droplet.js', '/pkg/droplet.wasm', '/pkg/droplet.css']) {
    const response = await request.get(path, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(response.status(), path).toBe(200);
    expect(response.headers()['content-encoding'], path).toBe('br');
  }
  const wasm = await request.get('/pkg/droplet.wasm', { headers: { 'accept-encoding': 'identity' } });
  expect(wasm.headers()['content-type']).toBe('application/wasm');
  expect(wasm.headers()['content-encoding']).toBeUndefined();
});
