import { defineConfig } from '@playwright/test';
import { ALONE_DIR, BASE_URL, DROPLET_SECRET, DROPLET_UUID, ENCRYPTION_KEY, FRAME_ANCESTORS, PORT, SESSION_TOKEN_SECRET, SIM_PORT, SIM_URL, WEBHOOK_SECRET } from './fixtures';

// Debian's Chromium, never a downloaded browser; flags that work as root without a network.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The host page that frames the UI is served by Playwright's router, which Chromium treats as a
  // public origin framing a loopback one; Fluid's real admin is public and the droplet is too.
  '--disable-features=LocalNetworkAccessChecks',
];

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  workers: 1,
  reporter: [['list']],
  outputDir: 'test-results',
  globalSetup: './global-setup.ts',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
  },
  webServer: [
    {
      command: './serve-sim.sh',
      url: `${SIM_URL}/_sim/installations/none/registrations`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        E2E_PORT: String(PORT),
        E2E_SIM_PORT: String(SIM_PORT),
        E2E_WEBHOOK_SECRET: WEBHOOK_SECRET,
        E2E_DROPLET_UUID: DROPLET_UUID,
        E2E_SESSION_TOKEN_SECRET: SESSION_TOKEN_SECRET,
        E2E_DROPLET_SECRET: DROPLET_SECRET,
      },
    },
    {
      command: './serve-alone.sh',
      url: `${BASE_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        E2E_PORT: String(PORT),
        E2E_SIM_PORT: String(SIM_PORT),
        E2E_ALONE_DIR: ALONE_DIR,
        E2E_WEBHOOK_SECRET: WEBHOOK_SECRET,
        E2E_DROPLET_UUID: DROPLET_UUID,
        E2E_ENCRYPTION_KEY: ENCRYPTION_KEY,
        E2E_FRAME_ANCESTORS: FRAME_ANCESTORS,
        E2E_SESSION_TOKEN_SECRET: SESSION_TOKEN_SECRET,
        E2E_DROPLET_SECRET: DROPLET_SECRET,
      },
    },
  ],
});
