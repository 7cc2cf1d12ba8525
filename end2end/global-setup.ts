// Installs the companies the tests look at, through the real signed lifecycle webhooks.
import { ACME, GONE, legacyInstall, sendLifecycle } from './fixtures';

export default async function globalSetup() {
  for (const [uuid, name] of [[ACME, 'Acme Widgets'], [GONE, 'Gone Goods']]) {
    const response = await sendLifecycle('installed', legacyInstall(uuid, name));
    if (!response.ok) throw new Error(`install of ${uuid} failed: ${response.status} ${await response.text()}`);
  }
  const response = await sendLifecycle('uninstalled', {
    resource: 'droplet',
    event: 'uninstalled',
    company: { droplet_installation_uuid: GONE, droplet_uuid: 'drp_e2e' },
  });
  if (!response.ok) throw new Error(`uninstall failed: ${response.status}`);
}
