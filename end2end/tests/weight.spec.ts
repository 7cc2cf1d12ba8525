import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { ACME } from '../fixtures';

// The budget from the admin UI issue: a page's first load, compressed, all included.
const BUDGET_BYTES = 250 * 1024;

// Pages with an island are interactive once it is hydrated; the events page has none (plain links).
const PAGES: [string, string, boolean][] = [
  ['overview', `/?dri=${ACME}`, true],
  ['shipping', `/shipping?dri=${ACME}`, true],
  ['callbacks', `/callbacks?dri=${ACME}`, true],
  ['events', `/events?dri=${ACME}`, false],
];

for (const [name, path, hasIsland] of PAGES) {
  test(`the first load of ${path.split('?')[0]} stays within 250 KB compressed`, async ({ page }) => {
    const transferred: Record<string, number> = {};
    page.on('response', async (response) => {
      const size = (await response.request().sizes()).responseBodySize;
      transferred[new URL(response.url()).pathname] = size;
    });
    const started = Date.now();
    await page.goto(path, { waitUntil: 'load' });
    // Time to interactive: from navigation start to the first frame in which the island is hydrated
    // (the page itself, without one).
    if (hasIsland) {
      await page.waitForFunction(() => document.querySelector('[data-hydrated="true"]'), null, { polling: 'raf' });
    }
    const interactiveMs = await page.evaluate(() => Math.round(performance.now()));
    await page.waitForLoadState('networkidle');
    // Cumulative layout shift through load and hydration: islands render the same HTML the server sent.
    const layoutShift = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let total = 0;
          new PerformanceObserver((list) => {
            for (const entry of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) {
              if (!entry.hadRecentInput) total += entry.value;
            }
          }).observe({ type: 'layout-shift', buffered: true });
          setTimeout(() => resolve(total), 200);
        }),
    );
    const wallMs = Date.now() - started;
    const total = Object.values(transferred).reduce((a, b) => a + b, 0);
    writeFileSync(`artifacts/weight-${name}.json`, JSON.stringify({ path, total, transferred, interactiveMs, layoutShift, wallMs }, null, 2));
    expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
    expect(layoutShift).toBeLessThan(0.01);
  });
}
