// Installs the companies the tests look at, through the real signed lifecycle webhooks.
import { ACME, DROPLET_UUID, GONE, legacyInstall, sendLifecycle, sim } from './fixtures';

export default async function globalSetup() {
  for (const [uuid, name] of [[ACME, 'Acme Widgets'], [GONE, 'Gone Goods']]) {
    const response = await sendLifecycle('installed', legacyInstall(uuid, name));
    if (!response.ok) throw new Error(`install of ${uuid} failed: ${response.status} ${await response.text()}`);
  }
  const response = await sendLifecycle('uninstalled', {
    resource: 'droplet',
    event: 'uninstalled',
    company: { droplet_installation_uuid: GONE, droplet_uuid: DROPLET_UUID },
  });
  if (!response.ok) throw new Error(`uninstall failed: ${response.status}`);

  // A company installed the way Fluid does it today: the simulator sends the v2 webhook, the
  // droplet exchanges the dex_ token and registers its callbacks and webhooks with the simulator.
  const installed = await sim('POST', '/installations', { company_name: 'Echo Outfitters', shape: 'v2_flat' });
  if (installed.delivery.answer.status !== 'active') throw new Error(`sim install: ${JSON.stringify(installed)}`);
  const dri: string = installed.droplet_installation_uuid;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { callback_registrations } = await sim('GET', `/installations/${dri}/registrations`);
    if (callback_registrations.length >= 2) break;
    if (Date.now() > deadline) throw new Error(`${dri}: callbacks not registered in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Read by the tests (workers inherit the environment).
  process.env.E2E_SIM_COMPANY = dri;
  // The company whose shipping options the shipping tests edit, signed in through the simulator.
  const shop = await sim('POST', '/installations', { company_name: 'Foxtrot Supply', shape: 'v2_flat' });
  if (shop.delivery.answer.status !== 'active') throw new Error(`sim install: ${JSON.stringify(shop)}`);
  process.env.E2E_SHOP_COMPANY = shop.droplet_installation_uuid;
}
