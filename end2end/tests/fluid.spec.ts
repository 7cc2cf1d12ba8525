// The admin UI end to end with (simulated) Fluid behind it: the company was installed through the
// v2 handshake in global setup, so its callbacks and webhooks are really registered.
import { expect, test } from '@playwright/test';
import { framed, sim, simCompany } from '../fixtures';

const ARTIFACTS = 'artifacts';

const cart = (country: string, price: number) => ({
  cart: { id: 77, items: [{ id: 1, quantity: 1, price }], ship_to: { country_code: country } },
});

test('the test button runs Fluid\'s round trip through the droplet and shows it', async ({ page }) => {
  const dri = simCompany();
  const frame = await framed(page, `/callbacks?dri=${dri}`);
  await expect(frame.locator('[data-definition="test_callback_system"] .badge')).toHaveText('registered');
  await frame.getByLabel('Message').fill('hello from e2e');
  await frame.getByRole('button', { name: 'Send test' }).click();
  const trip = frame.getByTestId('round-trip');
  await expect(trip).toContainText('Round trip completed');
  await expect(trip.locator('pre')).toContainText('"message": "hello from e2e!"');
  await page.screenshot({ path: `${ARTIFACTS}/callbacks-round-trip.png`, fullPage: true });
});

test('an option added in the UI is what the update_cart_shipping callback answers', async ({ page }) => {
  const dri = simCompany();
  const before = await sim('POST', `/installations/${dri}/callbacks/update_cart_shipping`, cart('CA', 20));
  expect(before.status).toBe(200);
  expect(before.body.shipping_options).toEqual([]);

  const frame = await framed(page, `/shipping?dri=${dri}`);
  await frame.getByLabel('Title').fill('Maple Post');
  await frame.getByLabel('Price').fill('4.25');
  await frame.getByLabel('Delivery time').fill('2-4 days');
  await frame.getByLabel('Countries (empty: everywhere)').fill('CA');
  await frame.getByRole('button', { name: 'Add option' }).click();
  await expect(frame.getByRole('status').first()).toHaveText('Saved.');

  const after = await sim('POST', `/installations/${dri}/callbacks/update_cart_shipping`, cart('CA', 20));
  expect(after.schema_violations).toEqual([]);
  expect(after.body.shipping_options).toEqual([
    { shipping_total: 4.25, shipping_title: 'Maple Post', shipping_delivery_time_estimate: '2-4 days' },
  ]);
  const elsewhere = await sim('POST', `/installations/${dri}/callbacks/update_cart_shipping`, cart('US', 20));
  expect(elsewhere.body.shipping_options).toEqual([]);

  // The preview says the same as the callback.
  await frame.getByLabel('Ship to (country code)').fill('CA');
  await frame.getByLabel('Subtotal', { exact: true }).fill('20');
  await frame.getByRole('button', { name: 'Preview' }).click();
  await expect(frame.getByTestId('preview-offered')).toContainText('Maple Post — $4.25');
  await page.screenshot({ path: `${ARTIFACTS}/shipping-preview.png`, fullPage: true });
});

test('company events Fluid delivers are listed and open in detail', async ({ page }) => {
  const dri = simCompany();
  const sent = await sim('POST', `/installations/${dri}/events/order/created`);
  expect(sent.deliveries.map((d: { status: number }) => d.status)).toEqual([200]);
  const frame = await framed(page, `/events?dri=${dri}`, false);
  const row = frame.locator('tr[data-event]').first();
  await expect(row).toContainText('order.created');
  await row.getByRole('link').click();
  await expect(frame.getByTestId('event-detail')).toContainText('"resource": "order"');
  await page.screenshot({ path: `${ARTIFACTS}/events-detail.png`, fullPage: true });

  // The overview counts it.
  const overview = await framed(page, `/?dri=${dri}`);
  await expect(overview.getByTestId('activity-summary')).toContainText('1 webhook(s) received');
  await expect(overview.locator('[data-registration="update_cart_shipping"] .badge')).toHaveText('registered');
  await page.screenshot({ path: `${ARTIFACTS}/overview-sim.png`, fullPage: true });
});

test('the overview says whether Fluid holds what the droplet registered, and Fix now repairs drift', async ({ page }) => {
  // A company of its own: the drift below must not touch another test's registrations.
  const company = await sim('POST', '/installations', { company_name: 'Hotel Supplies', shape: 'v2_flat' });
  expect(company.delivery.answer.status).toBe('active');
  const dri: string = company.droplet_installation_uuid;
  for (;;) {
    const { callback_registrations } = await sim('GET', `/installations/${dri}/registrations`);
    if (callback_registrations.length >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Someone switches the shipping callback off in Fluid's admin.
  await sim('POST', `/installations/${dri}/drift`, { kind: 'deactivate_callback', definition: 'update_cart_shipping' });

  const frame = await framed(page, `/?dri=${dri}`);
  const sync = frame.getByTestId('sync');
  await expect(sync).toContainText('Not checked against Fluid yet');
  await frame.getByRole('button', { name: 'Fix now' }).click();
  await expect(async () => {
    await frame.getByRole('button', { name: 'Refresh' }).click();
    await expect(sync).toContainText('In sync with Fluid (checked just now; 1 difference(s) fixed)', { timeout: 1000 });
    await expect(sync.getByText('Checking with Fluid')).toBeHidden({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  const { callback_registrations } = await sim('GET', `/installations/${dri}/registrations`);
  const shipping = callback_registrations.find((r: { definition_name: string }) => r.definition_name === 'update_cart_shipping');
  expect(shipping.active).toBe(true);
  await page.screenshot({ path: `${ARTIFACTS}/overview-sync.png`, fullPage: true });
});
