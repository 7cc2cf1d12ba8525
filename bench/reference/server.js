// The company-webhook endpoint as Fluid's docs show a droplet written in Node: Express with the
// raw body kept, the docs' verifyWebhook (HMAC-SHA256 over "timestamp.body", timingSafeEqual),
// and pg. It looks the installation's webhook verification token up, verifies, stores the event
// once (ON CONFLICT DO NOTHING) and answers 200 — the same work the droplet does, minus what the
// docs leave out (sealed tokens, envelope parsing, metrics). PORT and DATABASE_URL from the env.
const crypto = require('crypto');
const express = require('express');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = express();

// Preserve the raw request body for signature verification (as the docs do).
app.use(express.json({
  limit: '1mb',
  verify: (req, _res, buf) => { req.rawBody = buf; }
}));

// Fluid's docs, verbatim but for the secret coming from the installation.
function verifyWebhook(req, webhookSecret) {
  const timestamp = req.headers['x-fluid-timestamp'];
  const signature = req.headers['x-fluid-signature'];
  const body = req.rawBody;

  // Reject stale requests
  if (Math.floor(Date.now() / 1000) - parseInt(timestamp) > 300) {
    return false;
  }

  const expected = crypto
    .createHmac('sha256', webhookSecret)
    .update(`${timestamp}.${body}`)
    .digest('hex');

  return crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

app.post('/api/webhooks/companies/:uuid', async (req, res) => {
  try {
    const found = await pool.query(
      'SELECT webhook_verification_token FROM installations WHERE uuid = $1', [req.params.uuid]);
    if (found.rows.length === 0) return res.status(404).json({ error: 'unknown installation' });
    let valid = false;
    try { valid = verifyWebhook(req, found.rows[0].webhook_verification_token); } catch (_) { valid = false; }
    if (!valid) return res.status(401).json({ error: 'bad signature' });
    const event = req.body || {};
    const key = String(event.identifier || event.id || crypto.createHash('sha256').update(req.rawBody).digest('hex'));
    await pool.query(
      'INSERT INTO events (installation_uuid, dedupe_key, name, payload, received_at) VALUES ($1, $2, $3, $4, $5) ' +
      'ON CONFLICT (installation_uuid, dedupe_key) DO NOTHING',
      [req.params.uuid, key, event.name || null, req.rawBody.toString(), Math.floor(Date.now() / 1000)]);
    res.status(200).json({ status: 'stored' });
  } catch (error) {
    res.status(503).json({ error: 'database unavailable' });
  }
});

async function main() {
  await pool.query(`CREATE TABLE IF NOT EXISTS installations (
    uuid TEXT PRIMARY KEY, webhook_verification_token TEXT NOT NULL)`);
  await pool.query(`CREATE TABLE IF NOT EXISTS events (
    id BIGSERIAL PRIMARY KEY, installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    dedupe_key TEXT NOT NULL, name TEXT, payload TEXT NOT NULL, received_at BIGINT NOT NULL,
    UNIQUE (installation_uuid, dedupe_key))`);
  if (process.env.SEED_INSTALLATION && process.env.SEED_TOKEN) {
    await pool.query(
      'INSERT INTO installations (uuid, webhook_verification_token) VALUES ($1, $2) ON CONFLICT (uuid) DO NOTHING',
      [process.env.SEED_INSTALLATION, process.env.SEED_TOKEN]);
  }
  const port = parseInt(process.env.PORT || '3200');
  app.listen(port, '127.0.0.1', () => console.log(`reference listening on ${port}`));
}

main().catch((error) => { console.error(error); process.exit(1); });
