// Values shared by the server the suite starts and the tests that talk to it.
import { createHmac } from 'node:crypto';

export const PORT = Number(process.env.E2E_PORT ?? 3100);
export const BASE_URL = `http://127.0.0.1:${PORT}`;
export const WEBHOOK_SECRET = 'dws_e2e_only_secret';
// base64 of 32 bytes; only ever used by this suite.
export const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
export const FRAME_ANCESTORS = 'https://*.fluid.app http://127.0.0.1:3199';
/** The empty directory the release binary is copied into and run from. */
export const ALONE_DIR = process.env.E2E_ALONE_DIR ?? '/tmp/droplet-e2e-alone';

export const ACME = 'dri_e2e_acme';
export const GONE = 'dri_e2e_gone';

/** Sends a lifecycle webhook signed as Fluid signs it. */
export async function sendLifecycle(kind: 'installed' | 'uninstalled', payload: unknown): Promise<Response> {
  const body = JSON.stringify(payload);
  const timestamp = Math.floor(Date.now() / 1000).toString();
  const signature = createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${body}`).digest('hex');
  return fetch(`${BASE_URL}/api/webhooks/${kind}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-fluid-timestamp': timestamp,
      'x-fluid-signature': signature,
      'x-fluid-shop': 'e2e.fluid.app',
    },
    body,
  });
}

/** A v1 (tokens inline) install payload for `uuid`. */
export function legacyInstall(uuid: string, name: string) {
  return {
    event_name: 'droplet_installed',
    resource: 'droplet',
    event: 'installed',
    company: {
      droplet_installation_uuid: uuid,
      droplet_uuid: 'drp_e2e',
      fluid_company_id: 4242,
      fluid_shop: `${name.toLowerCase().replace(/\W+/g, '-')}.fluid.app`,
      name,
      authentication_token: `dit_${uuid}_token`,
      webhook_verification_token: `wvt_${uuid}_token`,
    },
  };
}
