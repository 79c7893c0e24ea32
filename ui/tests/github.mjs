// A local stand-in for GitHub, speaking its OAuth and REST protocol as the Rust suite's
// (tests/common/github.rs) does: `/login/oauth/authorize` plays the person on GitHub's
// consent page (`consentAs(login)`; `deny` cancels with `error=access_denied`; `stale`
// hands out a code GitHub no longer accepts), `/login/oauth/access_token` answers HTTP 200
// with `access_token` or `error` (`bad_verification_code`), `/api/v3/user` and
// `/api/v3/user/orgs` need a Bearer token (401 Bad credentials otherwise) and
// `DELETE /api/v3/applications/<id>/grant` revokes with Basic auth (204). Fulcrum reaches
// it only through its configuration (`env()`).
import { createServer } from 'node:http'

export const CLIENT_ID = 'Iv1.browserstandin'
export const CLIENT_SECRET = 'standin-github-secret'

function read(req) {
  return new Promise((resolve) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString()))
  })
}

export async function startGithub() {
  const accounts = new Map() // login → { id, orgs }
  const tokens = new Set()
  const hits = []
  const state = { next: 'octo' }
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    const body = await read(req)
    hits.push(`${req.method} ${url.pathname}`)
    const json = (status, value) => {
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(value === undefined ? '' : JSON.stringify(value))
    }
    const bearer = () => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      return tokens.has(token) ? accounts.get(token.slice('gho_'.length)) && token.slice('gho_'.length) : null
    }
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams
      if (q.get('client_id') !== CLIENT_ID || q.get('scope') !== 'read:org') return json(404, { message: 'Not Found' })
      const back = new URL(q.get('redirect_uri'))
      if (state.next === 'deny') {
        back.searchParams.set('error', 'access_denied')
        back.searchParams.set('error_description', 'The user has denied your application access.')
      } else {
        back.searchParams.set('code', `code-${state.next}`)
      }
      back.searchParams.set('state', q.get('state') ?? '')
      res.writeHead(302, { Location: back.toString() })
      return res.end()
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const form = new URLSearchParams(body)
      if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
        return json(200, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' })
      }
      const login = (form.get('code') ?? '').replace(/^code-/, '')
      if (!accounts.has(login)) return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })
      tokens.add(`gho_${login}`)
      return json(200, { access_token: `gho_${login}`, token_type: 'bearer', scope: 'read:org' })
    }
    if (req.method === 'GET' && url.pathname === '/api/v3/user') {
      const login = bearer()
      if (!login) return json(401, { message: 'Bad credentials' })
      const a = accounts.get(login)
      return json(200, { login, id: a.id, avatar_url: `https://avatars.githubusercontent.com/u/${a.id}.png`, html_url: `${base}/${login}` })
    }
    if (req.method === 'GET' && url.pathname === '/api/v3/user/orgs') {
      const login = bearer()
      if (!login) return json(401, { message: 'Bad credentials' })
      return json(200, url.searchParams.get('page') === '1' ? accounts.get(login).orgs.map((o) => ({ login: o, id: 1 })) : [])
    }
    const grant = /^\/api\/v3\/applications\/([^/]+)\/grant$/.exec(url.pathname)
    if (req.method === 'DELETE' && grant) {
      const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`
      const token = JSON.parse(body || '{}').access_token
      if (grant[1] !== CLIENT_ID || req.headers.authorization !== basic || !tokens.has(token)) return json(404, { message: 'Not Found' })
      tokens.delete(token)
      return json(204)
    }
    json(404, { message: 'Not Found' })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  return {
    base,
    hits,
    account: (login, id, orgs) => accounts.set(login, { id, orgs }),
    /** Who the next visit to GitHub's consent page is (`deny` cancels, `stale` is a bad code). */
    consentAs: (login) => (state.next = login),
    tokenValid: (login) => tokens.has(`gho_${login}`),
    env: () => ({
      FULCRUM_GITHUB_CLIENT_ID: CLIENT_ID,
      FULCRUM_GITHUB_CLIENT_SECRET: CLIENT_SECRET,
      FULCRUM_GITHUB_URL: base,
      FULCRUM_GITHUB_API_URL: `${base}/api/v3`,
    }),
    close: () => new Promise((r) => server.close(r)),
  }
}
