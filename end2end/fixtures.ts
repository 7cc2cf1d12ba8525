// Values shared by the server the suite starts and the tests that talk to it.
import { createHmac } from 'node:crypto';
import { expect, type FrameLocator, type Page } from '@playwright/test';

export const PORT = Number(process.env.E2E_PORT ?? 3100);
export const BASE_URL = `http://127.0.0.1:${PORT}`;
/** The simulated Fluid (`droplet sim serve`) the droplet under test talks to. */
export const SIM_PORT = Number(process.env.E2E_SIM_PORT ?? 3101);
export const SIM_URL = `http://127.0.0.1:${SIM_PORT}`;
export const WEBHOOK_SECRET = 'dws_e2e_only_secret';
// The simulated droplet both the simulator and the service are (FLUID_DROPLET_UUID).
export const DROPLET_UUID = 'drp_e2e';
// base64 of 32 bytes; only ever used by this suite.
export const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
/** The simulated Fluid's admin as a merchant opens it: on another site than the droplet's. */
export const SIM_ADMIN_URL = `http://localhost:${SIM_PORT}`;
export const FRAME_ANCESTORS = `https://*.fluid.app http://127.0.0.1:3199 ${SIM_ADMIN_URL}`;
// The secrets Fluid signs who is looking with (FLUID_SESSION_TOKEN_SECRET, FLUID_DROPLET_SECRET);
// only ever used by this suite.
export const SESSION_TOKEN_SECRET = 'sts_e2e_only_secret';
export const DROPLET_SECRET = 'dsk_e2e_only_secret';

/** The empty directory the release binary is copied into and run from. */
export const ALONE_DIR = process.env.E2E_ALONE_DIR ?? '/tmp/droplet-e2e-alone';

export const ACME = 'dri_e2e_acme';
export const GONE = 'dri_e2e_gone';

/** Signs the simulated company `dri`'s user in, as Fluid opens the droplet for them (its
 * `/_sim/embed` redirects with a fresh viewer token); the browser keeps the session cookie. */
export async function signIn(page: Page, dri: string): Promise<void> {
  const response = await page.goto(`${SIM_URL}/_sim/embed?dri=${dri}`);
  if (!response?.ok()) throw new Error(`signing ${dri} in failed: ${response?.status()}`);
  await expect(page.getByTestId('signed-in')).toBeVisible();
}

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
      droplet_uuid: DROPLET_UUID,
      fluid_company_id: 4242,
      fluid_shop: `${name.toLowerCase().replace(/\W+/g, '-')}.fluid.app`,
      name,
      authentication_token: `dit_${uuid}_token`,
      webhook_verification_token: `wvt_${uuid}_token`,
    },
  };
}

/** The company global setup installed through the simulator (v2 handshake), set in process.env. */
export function simCompany(): string {
  const dri = process.env.E2E_SIM_COMPANY;
  if (!dri) throw new Error('global setup did not install the simulator company');
  return dri;
}

/** The simulated company whose shipping options the shipping tests edit. */
export function shopCompany(): string {
  const dri = process.env.E2E_SHOP_COMPANY;
  if (!dri) throw new Error('global setup did not install the shop company');
  return dri;
}

/** Asks the simulated Fluid to do something through its control API; returns the JSON answer. */
export async function sim(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${SIM_URL}/_sim${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`sim ${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

// An origin FLUID_FRAME_ANCESTORS allows; Playwright serves the host page itself.
const HOST = 'http://127.0.0.1:3199';

/** Opens `path` inside an iframe on a host page, as Fluid's admin does (with a viewer token, so
 * the merchant may make changes), once its island is hydrated. */
export async function framed(page: Page, path: string, hydrates = true): Promise<FrameLocator> {
  // The company's user signs in through the simulated Fluid first (the host page is on the
  // droplet's site, so the session it keeps is the frame's too).
  const dri = new URL(path, BASE_URL).searchParams.get('dri') ?? '';
  if (dri) await signIn(page, dri);
  await page.route(`${HOST}/admin`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>Fluid admin</title><body style="margin:0;background:#e9ecf1">
        <iframe title="droplet" src="${BASE_URL}${path}" style="border:0;width:100%;height:1400px"></iframe></body>`,
    }),
  );
  await page.goto(`${HOST}/admin`);
  const frame = page.frameLocator('iframe[title="droplet"]');
  if (hydrates) await expect(frame.locator('[data-hydrated="true"]')).toBeVisible();
  else await expect(frame.locator('h1')).toBeVisible();
  return frame;
}
