import { expect, test, type Frame, type Page } from '@playwright/test';
import { BASE_URL, signIn, sim } from '../fixtures';

const ARTIFACTS = 'artifacts';

/** A company that installed the droplet through the simulated Fluid, with its checkout drop zone
 * created and one shipping option — Standard, $5.00, free from $50 — added by its merchant. */
async function shop(page: Page, name: string): Promise<string> {
  const installed = await sim('POST', '/installations', { company_name: name, shape: 'v2_flat' });
  const dri: string = installed.droplet_installation_uuid;
  await expect
    .poll(async () => (await sim('GET', `/installations/${dri}/drop_zones`)).drop_zones.length, { timeout: 15_000 })
    .toBe(1);
  await signIn(page, dri);
  await page.goto(`/shipping?dri=${dri}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  await page.getByLabel('Title').fill('Standard');
  await page.getByLabel('Price').fill('5.00');
  await page.getByLabel('Delivery time').fill('3-5 business days');
  await page.getByLabel('Countries (empty: everywhere)').fill('US, CA');
  await page.getByLabel('Free from subtotal').fill('50');
  await page.getByRole('button', { name: 'Add option' }).click();
  await expect(page.locator('tr[data-option="Standard"]')).toContainText('$5.00');
  return dri;
}

/** The drop zone's frame on the simulated checkout page. */
async function widgetFrame(page: Page): Promise<Frame> {
  const handle = await page.locator('iframe.drop-zone').elementHandle();
  const frame = await handle?.contentFrame();
  if (!frame) throw new Error('no drop zone frame on the checkout page');
  return frame;
}

/** Whether the frame's document fits it: no scrollbar either way. */
async function overflows(frame: Frame): Promise<{ x: boolean; y: boolean }> {
  return frame.evaluate(() => {
    const root = document.documentElement;
    return { x: root.scrollWidth > root.clientWidth, y: root.scrollHeight > root.clientHeight };
  });
}

for (const { label, width, height } of [
  { label: 'phone', width: 360, height: 740 },
  { label: 'desktop', width: 1280, height: 800 },
]) {
  test(`the checkout widget shows a shopper what is left to free shipping (${label})`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    const dri = await shop(page, `Checkout ${label} Co`);
    const cart = await sim('POST', `/installations/${dri}/carts`, { sub_total: '38.00', country_code: 'US' });
    await page.goto(cart.checkout_url);
    let frame = await widgetFrame(page);
    await expect(frame.locator('.offer')).toHaveText('Standard: $5.00 · 3-5 business days');
    await expect(frame.locator('.goal')).toHaveText('Add $12.00 for free Standard shipping');
    await expect(frame.getByRole('progressbar', { name: 'Add $12.00 for free Standard shipping' })).toHaveAttribute('value', '76');
    expect(await overflows(frame)).toEqual({ x: false, y: false });
    // Nothing the shopper's page loads names the company's installation.
    expect(frame.url()).not.toContain(dri);
    expect(await frame.content()).not.toContain(dri);
    await page.screenshot({ path: `${ARTIFACTS}/checkout-widget-${label}.png`, fullPage: true });

    // The shopper adds to the cart; the checkout reloads the drop zone.
    await sim('PATCH', `/carts/${cart.cart_token}`, { sub_total: '45.50' });
    await page.reload();
    frame = await widgetFrame(page);
    await expect(frame.locator('.goal')).toHaveText('Add $4.50 for free Standard shipping');

    // In the dark: the shopper's colour scheme, still readable.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    frame = await widgetFrame(page);
    await expect(frame.locator('.goal')).toHaveText('Add $4.50 for free Standard shipping');
    const color = await frame.locator('body').evaluate((body) => getComputedStyle(body).color);
    expect(color).toBe('rgb(230, 232, 235)');
    // Its own card in the dark; the frame itself stays transparent on the checkout's page.
    const card = await frame.locator('main').evaluate((main) => getComputedStyle(main).backgroundColor);
    expect(card).toBe('rgb(22, 27, 34)');
    const backdrop = await frame.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor);
    expect(backdrop).toBe('rgba(0, 0, 0, 0)');
    expect(await overflows(frame)).toEqual({ x: false, y: false });
    await page.screenshot({ path: `${ARTIFACTS}/checkout-widget-${label}-dark.png`, fullPage: true });
  });
}

test('a shopper sees nothing at all when Fluid cannot say what is in the cart', async ({ page }) => {
  const dri = await shop(page, 'Quiet Checkout Co');
  const cart = await sim('POST', `/installations/${dri}/carts`, { sub_total: '38.00', country_code: 'US' });
  await sim('POST', '/chaos', { carts: 'failing' });
  try {
    await page.goto(cart.checkout_url);
    const frame = await widgetFrame(page);
    await expect(frame.locator('body')).toBeEmpty();
    const background = await frame.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor);
    expect(background).toBe('rgba(0, 0, 0, 0)');
  } finally {
    await sim('POST', '/chaos', {});
  }
});

test('the merchant previews the widget, turns it off and on again', async ({ page }) => {
  const dri = await shop(page, 'Switch Co');
  await page.goto(`/shipping?dri=${dri}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  const card = page.locator('section', { has: page.getByRole('heading', { name: 'Checkout widget' }) });
  await expect(card.getByTestId('widget-zone')).toHaveText("On Fluid's checkout, above the fast-checkout button.");
  const preview = page.frameLocator('iframe.widget-preview');
  await expect(preview.locator('.goal')).toHaveText('Add $10.00 for free Standard shipping');
  await card.getByLabel('It shows').selectOption('best_option');
  await expect(preview.locator('.offer')).toHaveText('Standard: $5.00 · 3-5 business days');
  await expect(preview.locator('.goal')).toHaveCount(0);
  await card.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${ARTIFACTS}/checkout-widget-admin.png`, fullPage: true });

  await card.getByLabel('Hide it').check();
  await card.getByRole('button', { name: 'Save widget settings' }).click();
  await expect(card.getByTestId('widget-zone')).toHaveText('Off: shoppers do not see it.', { timeout: 15_000 });
  expect((await sim('GET', `/installations/${dri}/drop_zones`)).drop_zones).toEqual([]);
  const cart = await sim('POST', `/installations/${dri}/carts`, { sub_total: '38.00', country_code: 'US' });
  await page.goto(cart.checkout_url);
  await expect(page.locator('iframe.drop-zone')).toHaveCount(0);

  await page.goto(`/shipping?dri=${dri}`);
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
  await page.getByLabel('Show the widget').check();
  await page.getByRole('button', { name: 'Save widget settings' }).click();
  await expect(page.getByTestId('widget-zone')).toHaveText("On Fluid's checkout, above the fast-checkout button.", {
    timeout: 15_000,
  });
  await page.goto(cart.checkout_url);
  const frame = await widgetFrame(page);
  // Saved as "the shipping the cart gets" only.
  await expect(frame.locator('.offer')).toHaveText('Standard: $5.00 · 3-5 business days');
  await expect(frame.locator('.goal')).toHaveCount(0);
  expect(frame.url().startsWith(`${BASE_URL}/checkout/widget/wgt_`)).toBe(true);
});
