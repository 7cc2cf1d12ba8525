import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { ACME, framed, shopCompany, signIn, sim } from '../fixtures';

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

test('a zone is defined once and used by two options; a CSV file shows what it changes before it is applied', async ({ page }) => {
  // A company of its own: an import makes the options what the file lists.
  const company = await sim('POST', '/installations', { company_name: 'Golf Imports', shape: 'v2_flat' });
  expect(company.delivery.answer.status).toBe('active');
  const dri: string = company.droplet_installation_uuid;
  await signIn(page, dri);
  await page.goto(`/shipping?dri=${dri}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();

  // The zone, once.
  const zones = page.getByTestId('zones');
  await zones.getByLabel('Zone name').fill('West Coast');
  await zones.getByLabel('Region codes (ISO 3166-2)').fill('US-CA, US-OR');
  await zones.getByLabel('Leave out postal codes').fill('96*');
  await zones.getByRole('button', { name: 'Add zone' }).click();
  await expect(zones.locator('li[data-zone="West Coast"]')).toContainText('US-CA, US-OR; except 96*');

  // Two options use it; the option's own destination fields step aside.
  for (const [title, price] of [['Coast ground', '6'], ['Coast express', '15']]) {
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Price').fill(price);
    await page.getByLabel('Saved zone').selectOption('West Coast');
    await expect(page.getByLabel('Countries (empty: everywhere)')).toBeHidden();
    await page.getByRole('button', { name: 'Add option' }).click();
    await expect(page.locator(`tr[data-option="${title}"]`)).toContainText('West Coast: US-CA, US-OR; except 96*');
  }
  await expect(zones.locator('li[data-zone="West Coast"]')).toContainText('Used by Coast ground, Coast express');

  // Changed in one place, both options ship to Washington.
  await zones.getByRole('button', { name: 'Edit zone West Coast' }).click();
  await zones.getByLabel('Region codes (ISO 3166-2)').fill('US-CA, US-OR, US-WA');
  await zones.getByRole('button', { name: 'Save zone' }).click();
  await expect(zones.getByTestId('zone-notice')).toHaveText('Zone saved.');
  for (const title of ['Coast ground', 'Coast express']) {
    await expect(page.locator(`tr[data-option="${title}"]`)).toContainText('US-CA, US-OR, US-WA');
  }
  // In use, it is not deleted, and the merchant is told why.
  await zones.getByRole('button', { name: 'Delete zone West Coast' }).click();
  await expect(zones.getByTestId('zone-refusal')).toHaveText(
    'The zone West Coast is used by Coast ground, Coast express; choose another zone for them first.',
  );

  // The export downloads as a file, and picking it again changes nothing.
  await page.getByRole('button', { name: 'Export current options' }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download shipping-options.csv' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('shipping-options.csv');
  const exported = readFileSync(await download.path());
  expect(exported.toString()).toMatch(/^title,enabled,currency,rate_type,/);
  await page.locator('#csv-file').setInputFiles({ name: download.suggestedFilename(), mimeType: 'text/csv', buffer: exported });
  const plan = page.getByTestId('import-plan');
  await expect(plan.getByRole('heading', { level: 3 })).toHaveText('shipping-options.csv: no change');
  await expect(plan.getByRole('button', { name: 'Apply import' })).toBeDisabled();
  await plan.getByRole('button', { name: 'Cancel' }).click();
  await expect(plan).toHaveCount(0);

  // A file dropped on the card: Coast ground costs more, Coast express goes, Pickup comes.
  const edited = 'title,price,currency,zone\nCoast ground,7.50,USD,West Coast\nPickup,0,USD,\n';
  const dataTransfer = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], 'spring-rates.csv', { type: 'text/csv' }));
    return transfer;
  }, edited);
  await page.dispatchEvent('label.drop-zone', 'drop', { dataTransfer });
  await expect(plan.getByRole('heading', { level: 3 })).toHaveText('spring-rates.csv: 1 added, 1 changed, 1 removed');
  await expect(plan.getByTestId('plan-added')).toHaveText('Pickup');
  await expect(plan.getByTestId('plan-changed')).toContainText('price: 6 → 7.5');
  await expect(plan.getByTestId('plan-removed')).toHaveText('Coast express');
  // Nothing is applied yet.
  await expect(page.locator('tr[data-option="Coast express"]')).toHaveCount(1);
  await page.screenshot({ path: `${ARTIFACTS}/shipping-import-plan.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${ARTIFACTS}/shipping-import-plan-360.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  await plan.getByRole('button', { name: 'Apply import' }).click();
  await expect(page.getByTestId('csv-notice')).toHaveText('Imported: 1 added, 1 changed, 1 removed.');
  await expect(page.locator('tr[data-option="Coast express"]')).toHaveCount(0);
  await expect(page.locator('tr[data-option="Coast ground"]')).toContainText('$7.50');
  await expect(page.locator('tr[data-option="Pickup"]')).toHaveCount(1);

  // A bad line is reported by number, and nothing is applied.
  await page.locator('#csv-file').setInputFiles({
    name: 'broken.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('title,price,currency,countries\nFine,1,USD,\nWrong,1,USD,XX\n'),
  });
  await expect(page.locator('.import-report')).toContainText('line 3: countries: XX is not an ISO 3166-1 alpha-2 country code');
  await expect(plan).toHaveCount(0);
  await expect(page.locator('tr[data-option="Fine"]')).toHaveCount(0);
  await page.screenshot({ path: `${ARTIFACTS}/shipping-csv.png`, fullPage: true });
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
