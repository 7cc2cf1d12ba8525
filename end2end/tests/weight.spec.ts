import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { ACME } from '../fixtures';

// The budget from the admin UI issue: a page's first load, compressed, all included.
const BUDGET_BYTES = 250 * 1024;

for (const path of [`/?dri=${ACME}`, `/shipping?dri=${ACME}`]) {
  test(`the first load of ${path.split('?')[0]} stays within 250 KB compressed`, async ({ page }) => {
    const transferred: Record<string, number> = {};
    page.on('response', async (response) => {
      const size = (await response.request().sizes()).responseBodySize;
      transferred[new URL(response.url()).pathname] = size;
    });
    const started = Date.now();
    await page.goto(path, { waitUntil: 'load' });
    await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
    const interactiveMs = await page.evaluate(() => Math.round(performance.now()));
    const wallMs = Date.now() - started;
    const total = Object.values(transferred).reduce((a, b) => a + b, 0);
    const name = path === '/' || path.startsWith('/?') ? 'overview' : 'shipping';
    writeFileSync(`artifacts/weight-${name}.json`, JSON.stringify({ path, total, transferred, interactiveMs, wallMs }, null, 2));
    expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
  });
}
