// A local stand-in for Slack and for a webhook receiver, speaking their HTTP as the Rust
// suite's (tests/common/slack.rs) does: `/oauth/v2/authorize` plays the person who picks
// #ml-alerts and allows, `/api/oauth.v2.access` answers HTTP 200 with `ok`/`error`, incoming
// webhooks answer `ok` or Slack's errors by their last path segment (`gone` → 404
// no_service, `archived` → 410 channel_is_archived), and `/hooks/*` checks Fulcrum's
// signature. Fulcrum reaches it only through its configuration (`env()`).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

export const CLIENT_ID = '111.222'
export const CLIENT_SECRET = 'standin-client-secret'
const GOOD_CODE = 'good-code'

function read(req) {
  return new Promise((resolve) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
  })
}

function signatureOk(secret, headers, body) {
  const ts = Number(headers['fulcrum-timestamp'] ?? 0)
  if (!secret || Math.abs(Date.now() / 1000 - ts) > 300) return false
  const want = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')}`)
  const got = Buffer.from(String(headers['fulcrum-signature'] ?? ''))
  return got.length === want.length && timingSafeEqual(got, want)
}

export async function startSlack() {
  const hits = []
  const state = { secret: '' }
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    const body = await read(req)
    const answer = (status, text, type = 'text/plain') => {
      res.writeHead(status, { 'Content-Type': type })
      res.end(text)
    }
    if (req.method === 'GET' && url.pathname === '/oauth/v2/authorize') {
      const q = url.searchParams
      if (q.get('client_id') !== CLIENT_ID || q.get('scope') !== 'incoming-webhook') return answer(400, 'invalid_client or scope')
      const back = new URL(q.get('redirect_uri'))
      back.searchParams.set('code', GOOD_CODE)
      back.searchParams.set('state', q.get('state') ?? '')
      res.writeHead(302, { Location: back.toString() })
      return res.end()
    }
    if (req.method === 'POST' && url.pathname === '/api/oauth.v2.access') {
      const form = new URLSearchParams(body.toString())
      const reply = (v) => answer(200, JSON.stringify(v), 'application/json')
      if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) return reply({ ok: false, error: 'invalid_client_id' })
      if (form.get('code') !== GOOD_CODE) return reply({ ok: false, error: 'invalid_code' })
      return reply({
        ok: true,
        app_id: 'A0001',
        scope: 'incoming-webhook',
        token_type: 'bot',
        team: { id: 'T0001', name: 'Lab Slack' },
        incoming_webhook: { channel: '#ml-alerts', channel_id: 'C0001', configuration_url: `${base}/services/B0001`, url: `${base}/services/T0001/B0001/oauth` },
      })
    }
    const hook = /^\/services\/[^/]+\/[^/]+\/([^/]+)$/.exec(url.pathname)
    if (req.method === 'POST' && hook) {
      let json = null
      try {
        json = JSON.parse(body.toString())
      } catch {
        /* answered below */
      }
      if (typeof json?.text !== 'string') return answer(400, 'invalid_payload')
      if (hook[1] === 'gone') return answer(404, 'no_service')
      if (hook[1] === 'archived') return answer(410, 'channel_is_archived')
      hits.push({ path: `/services/${hook[1]}`, body: json })
      return answer(200, 'ok')
    }
    const signed = /^\/hooks\/([^/]+)$/.exec(url.pathname)
    if (req.method === 'POST' && signed) {
      const ok = signatureOk(state.secret, req.headers, body)
      hits.push({ path: url.pathname, body: JSON.parse(body.toString() || 'null'), signed: ok })
      return answer(ok ? 204 : 401, ok ? '' : 'bad signature')
    }
    answer(404, 'not found')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  const host = base.slice('http://'.length)
  return {
    base,
    hits: (path) => hits.filter((h) => h.path === path),
    setSecret: (s) => (state.secret = s),
    /** Fulcrum's settings that point its Slack app and its allow-lists here. */
    env: () => ({
      FULCRUM_SLACK_CLIENT_ID: CLIENT_ID,
      FULCRUM_SLACK_CLIENT_SECRET: CLIENT_SECRET,
      FULCRUM_SLACK_URL: base,
      FULCRUM_SLACK_API_URL: `${base}/api`,
      FULCRUM_SLACK_WEBHOOK_HOSTS: host,
      FULCRUM_WEBHOOK_ALLOW_HOSTS: host,
      FULCRUM_JOB_POLL_MS: '50',
      FULCRUM_JOB_BACKOFF_BASE_MS: '100',
    }),
    webhook: (name) => `${base}/services/T0001/B0001/${name}`,
    close: () => new Promise((r) => server.close(r)),
  }
}
