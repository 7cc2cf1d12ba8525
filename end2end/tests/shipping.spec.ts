import { expect, test } from '@playwright/test';
import { ACME, framed, shopCompany, signIn } from '../fixtures';

const ARTIFACTS = 'artifacts';

test('a merchant adds a shipping option inside Fluid\'s iframe and sees it listed', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  const frame = await framed(page, `/shipping?dri=${shopCompany()}`);
  await frame.getByLabel('Title').fill('Standard');
  await frame.getByLabel('Price').fill('5.99');
  await frame.getByLabel('Delivery time').fill('3-5 business days');
  await frame.getByLabel('Countries (empty: everywhere)').fill('US, CA');
  await frame.getByLabel('Free from subtotal').fill('50');
  await frame.getByRole('button', { name: 'Add option' }).click();
  await expect(frame.getByRole('status')).toHaveText('Saved.');
  const row = frame.locator('tr[data-option="Standard"]');
  await expect(row).toContainText('$5.99');
  await expect(row).toContainText('US, CA');
  await expect(row).toContainText('free from $50.00');
  await expect(frame.getByLabel('Title')).toHaveValue('');
  await page.screenshot({ path: `${ARTIFACTS}/shipping-framed.png`, fullPage: true });
  expect(problems).toEqual([]);

  // It survives a reload: it was stored, not just drawn.
  const again = await framed(page, `/shipping?dri=${shopCompany()}`);
  await expect(again.locator('tr[data-option="Standard"]')).toContainText('$5.99');
});

test('a bad price shows its error next to the field and saves nothing', async ({ page }) => {
  await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  const before = await page.locator('tbody tr').count();
  await page.getByLabel('Title').fill('Broken');
  await page.getByLabel('Price').fill('-4');
  await page.getByLabel('Countries (empty: everywhere)').fill('US, ZZ');
  await page.getByRole('button', { name: 'Add option' }).click();
  await expect(page.locator('#field-price-error')).toHaveText('must not be negative');
  await expect(page.locator('#field-countries-error')).toHaveText('ZZ is not an ISO 3166-1 alpha-2 country code');
  await expect(page.getByLabel('Price')).toHaveAttribute('aria-invalid', 'true');
  await page.screenshot({ path: `${ARTIFACTS}/shipping-invalid.png`, fullPage: true });
  await page.reload();
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await expect(page.locator('tbody tr')).toHaveCount(before);
  await expect(page.locator('tr[data-option="Broken"]')).toHaveCount(0);
});

test('an option can be disabled, edited and deleted', async ({ page }) => {
  await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel('Title').fill('Express');
  await page.getByLabel('Price').fill('19.5');
  await page.getByRole('button', { name: 'Add option' }).click();
  const row = page.locator('tr[data-option="Express"]');
  await expect(row).toContainText('$19.50');

  const [toggled] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/ui/set_shipping_option_enabled')),
    row.getByLabel('Enable Express').uncheck(),
  ]);
  expect(toggled.status()).toBe(200);
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await page.reload();
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await expect(page.locator('tr[data-option="Express"]').getByLabel('Enable Express')).not.toBeChecked();

  await page.locator('tr[data-option="Express"]').getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByLabel('Price')).toHaveValue('19.5');
  await page.getByLabel('Price').fill('21');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.locator('tr[data-option="Express"]')).toContainText('$21.00');

  await page.locator('tr[data-option="Express"]').getByRole('button', { name: 'Delete' }).click();
  await expect(page.locator('tr[data-option="Express"]')).toHaveCount(0);
});

for (const [name, path] of [
  ['shipping', `/shipping?dri=${ACME}`],
  ['overview', `/?dri=${ACME}`],
  ['callbacks', `/callbacks?dri=${ACME}`],
  ['events', `/events?dri=${ACME}`],
]) {
  test(`the ${name} page fits a 360 px iframe`, async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 800 });
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${ARTIFACTS}/${name}-360.png`, fullPage: true });
  });
}

test('a CSV export imports back, and a bad line is reported by number with nothing saved', async ({ page }) => {
  await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel('Title').fill('Pallet');
  await page.getByLabel('Price').fill('80');
  await page.getByRole('button', { name: 'Add option' }).click();
  await expect(page.locator('tr[data-option="Pallet"]')).toHaveCount(1);

  await page.getByRole('button', { name: 'Export current options' }).click();
  const csv = page.getByLabel('CSV', { exact: true });
  await expect(csv).toHaveValue(/^title,enabled,currency,rate_type/);
  await expect(csv).toHaveValue(/Pallet,true,USD,flat,80,/);
  const rows = await page.locator('tbody tr').count();
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByRole('status')).toHaveText(`Imported ${rows} option(s).`);
  await expect(page.locator('tr[data-option="Pallet"]')).toHaveCount(2);

  const header = 'title,price,currency,delivery_estimate,countries,subtotal_min,subtotal_max,free_above,weight_min,weight_max,weight_unit,enabled';
  await csv.fill(`${header}\nFine,1,USD,,,,,,,,kg,true\nWrong,1,USD,,XX,,,,,,kg,true`);
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.locator('.import-report')).toContainText('line 3: countries: XX is not an ISO 3166-1 alpha-2 country code');
  await page.screenshot({ path: `${ARTIFACTS}/shipping-csv.png`, fullPage: true });
  await expect(page.locator('tr[data-option="Fine"]')).toHaveCount(0);
});

test('tampered server function arguments are rejected', async ({ request }) => {
  const load = await request.post('/api/ui/load_shipping', { form: { dri: ACME } });
  expect(load.status()).toBe(200);
  const token: string = (await load.json()).page_token;
  const [dri, expires, signature] = token.split('.');
  const attempts = [
    { name: 'another installation in the token', token: `dri_e2e_gone.${expires}.${signature}`, origin: undefined },
    { name: 'a later expiry', token: `${dri}.${Number(expires) + 86400}.${signature}`, origin: undefined },
    { name: 'no token', token: '', origin: undefined },
    { name: 'a cross-site origin', token, origin: 'https://evil.example' },
  ];
  for (const attempt of attempts) {
    const response = await request.post('/api/ui/delete_shipping_option', {
      form: { token: attempt.token, id: '1' },
      headers: attempt.origin ? { origin: attempt.origin } : {},
    });
    expect(response.status(), attempt.name).toBe(401);
  }
});

test.describe('before hydration (JavaScript off)', () => {
  test.use({ javaScriptEnabled: false });

  test('the add form still saves, and says what it refused', async ({ page }) => {
    await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
    await page.getByLabel('Title').fill('No Script Post');
    await page.getByLabel('Price').fill('2');
    await page.getByRole('button', { name: 'Add option' }).click();
    await expect(page).toHaveURL(new RegExp(`/shipping\\?dri=${shopCompany()}$`));
    await expect(page.locator('tr[data-option="No Script Post"]')).toContainText('$2.00');
    await expect(page.locator('tr[data-option="No Script Post"]').getByRole('checkbox')).toBeChecked();

    await page.getByLabel('Title').fill('Refused');
    await page.getByLabel('Price').fill('-2');
    await page.getByRole('button', { name: 'Add option' }).click();
    await expect(page.locator('#field-price-error')).toHaveText('must not be negative');
    await expect(page.getByText('Some fields need attention.')).toBeVisible();
    await expect(page.locator('tr[data-option="Refused"]')).toHaveCount(0);
    await page.screenshot({ path: `${ARTIFACTS}/shipping-no-js.png`, fullPage: true });

    // The preview is a plain GET form.
    await page.getByLabel('Ship to (country code)').fill('US');
    await page.getByLabel('Subtotal', { exact: true }).fill('10');
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect(page.getByTestId('preview-offered')).toContainText('No Script Post — $2.00');
  });
});

test('a tiered option with an excluded region is created, previewed and explained', async ({ page }) => {
  await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  await page.getByLabel('Title').fill('Mainland tiers');
  await page.getByLabel('Rate type').selectOption('tiered_weight');
  // Only the fields of the chosen rate type are shown.
  await expect(page.getByLabel('Percent of the subtotal')).toBeHidden();
  await page.getByLabel('Tiers (up to:amount, * for the rest)').fill('1:5, 5:9, 20:15');
  await page.getByLabel('Countries (empty: everywhere)').fill('US');
  await page.getByLabel('Except regions').fill('US-AK, US-HI');
  await page.getByLabel('Or: fewest days').fill('3');
  await page.getByLabel('Most days').fill('5');
  await page.getByRole('button', { name: 'Add option' }).click();
  const row = page.locator('tr[data-option="Mainland tiers"]');
  await expect(row).toContainText('≤ 1 kg: $5.00 · ≤ 5 kg: $9.00 · ≤ 20 kg: $15.00');
  await expect(row).toContainText('US; except US-AK, US-HI');
  await expect(row).toContainText('3-5 days');

  // A bad tier table is refused next to its field.
  await page.getByLabel('Title').fill('Broken tiers');
  await page.getByLabel('Rate type').selectOption('tiered_weight');
  await page.getByLabel('Tiers (up to:amount, * for the rest)').fill('5:9, 1:5');
  await page.getByRole('button', { name: 'Add option' }).click();
  await expect(page.locator('#field-tiers-error')).toHaveText('the bounds must go up: 1 follows 5');

  // The preview says why each option is offered or not.
  await page.getByLabel('Ship to (country code)').fill('US');
  await page.getByLabel('State or province').fill('Hawaii');
  await page.getByLabel('Subtotal', { exact: true }).fill('30');
  await page.getByLabel('Weight (kg)').fill('3');
  await page.getByRole('button', { name: 'Preview' }).click();
  const line = page.getByTestId('preview-offered').locator('li', { hasText: 'Mainland tiers' });
  await expect(line).toContainText('not offered: US-HI is excluded');
  await page.getByLabel('State or province').fill('CA');
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByTestId('preview-offered').locator('li', { hasText: 'Mainland tiers' }))
    .toContainText('Mainland tiers — $9.00');
  await expect(page.getByTestId('preview-offered').locator('li', { hasText: 'Mainland tiers' }))
    .toContainText('3 kg is in the tier up to 5 kg: $9.00');
  await page.screenshot({ path: `${ARTIFACTS}/shipping-rules.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${ARTIFACTS}/shipping-rules-360.png`, fullPage: true });
});

test('the merchant sets a backup rate and removes it', async ({ page }) => {
  await signIn(page, shopCompany());
  await page.goto(`/shipping?dri=${shopCompany()}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  const card = page.getByTestId('backup-rate');
  await card.getByLabel('Shown as').fill('Standard (backup)');
  await card.getByLabel('Amount').fill('nine');
  await card.getByRole('button', { name: 'Save backup rate' }).click();
  await expect(card.locator('#backup-price-error')).toHaveText('`nine` is not a number');
  await card.getByLabel('Amount').fill('9.99');
  await card.getByRole('button', { name: 'Save backup rate' }).click();
  await expect(card.getByTestId('backup-now')).toHaveText('Now: Standard (backup) — 9.99 USD');
  await page.reload();
  await expect(page.getByTestId('backup-now')).toHaveText('Now: Standard (backup) — 9.99 USD');
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  await page.getByTestId('backup-rate').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('backup-now')).toHaveText("Now: none (Fluid's fallback).");
});
