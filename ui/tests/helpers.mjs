// Shared helpers for the browser tests: start the real `fulcrum` binary on a free port with
// a temporary data directory, drive Debian's chromium through playwright-core (no browser
// download), answer every non-loopback request locally, and save screenshots.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const UI_DIR = resolve(here, '..')
export const REPO_DIR = resolve(UI_DIR, '..')
export const BIN = resolve(UI_DIR, process.env.FULCRUM_BIN ?? '../target/debug/fulcrum')
export const ARTIFACTS = resolve(REPO_DIR, 'target/browser-artifacts')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const PASSWORD = 'correct horse battery'

// The stand-in for img.shields.io and every other outside host: a 120x20 SVG badge.
export const BADGE_W = 120
export const BADGE_H = 20
export const BADGE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="${BADGE_W}" height="${BADGE_H}" viewBox="0 0 ${BADGE_W} ${BADGE_H}"><rect width="${BADGE_W}" height="${BADGE_H}" rx="3" fill="#555"/><rect x="60" width="60" height="20" rx="3" fill="#1f6feb"/><text x="8" y="14" font-size="11" fill="#fff" font-family="sans-serif">badge</text></svg>`

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.unref()
    s.on('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Start `fulcrum serve` on a free port with a fresh data directory (`env`: extra FULCRUM_* settings). */
export async function startServer({ env = {} } = {}) {
  if (!existsSync(BIN)) throw new Error(`fulcrum binary not found at ${BIN} (build it with cargo build, or set FULCRUM_BIN)`)
  const dataDir = mkdtempSync(join(tmpdir(), 'fulcrum-ui-test-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--public-url', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FULCRUM_LOG_LEVEL: process.env.FULCRUM_LOG_LEVEL ?? 'warn', ...env },
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  let exited = null
  child.on('exit', (code) => (exited = code))

  const deadline = Date.now() + 30_000
  let ready = false
  while (Date.now() < deadline && exited === null) {
    try {
      const r = await fetch(`${url}/api/v1/session`)
      if (r.ok) {
        ready = true
        break
      }
    } catch {
      /* not yet */
    }
    await sleep(100)
  }
  if (!ready) {
    child.kill('SIGKILL')
    throw new Error(`fulcrum did not start (exit ${exited}):\n${output}`)
  }
  // the setup link is printed right after the listening line
  let setupLink = null
  for (let i = 0; i < 50 && !setupLink; i++) {
    setupLink = /(https?:\/\/\S+\/setup#token=[^\s]+)/.exec(output)?.[1] ?? null
    if (!setupLink) await sleep(100)
  }
  return {
    url,
    dataDir,
    setupLink,
    output: () => output,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM')
        for (let i = 0; i < 50 && exited === null; i++) await sleep(100)
        if (exited === null) child.kill('SIGKILL')
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** `fulcrum admin …` against the server's data directory. */
export function admin(server, args, input) {
  const r = spawnSync(BIN, ['admin', ...args, '--data-dir', server.dataDir], {
    input: input ?? '',
    encoding: 'utf8',
    env: { ...process.env, FULCRUM_LOG_LEVEL: 'warn' },
  })
  if (r.status !== 0) throw new Error(`fulcrum admin ${args.join(' ')} failed: ${r.stderr}${r.stdout}`)
  return r.stdout.trim()
}

export function createUser(server, username, { admin: isAdmin = false, name, password = PASSWORD } = {}) {
  const args = ['create-user', '--username', username, '--email', `${username}@example.com`]
  if (name) args.push('--name', name)
  if (isAdmin) args.push('--admin')
  return admin(server, args, `${password}\n`)
}

/** Mark a user's email address verified (as the verification link would). */
export function verifyEmail(server, username) {
  return admin(server, ['verify-email', '--username', username])
}

/** A GraphQL call from outside the browser with an API key (Basic api:<key>, as the SDK sends it). */
export async function gqlWithKey(server, key, query, variables = {}, headers = {}) {
  const r = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}`,
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  })
  const body = await r.json().catch(() => null)
  return { status: r.status, body }
}

/** A browser context on a fresh profile; every request to a non-loopback host is answered locally. */
export async function launch({ locale = 'en-US' } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'fulcrum-ui-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--lang=${locale}`,
    ],
  })
  const outside = []
  await context.route(
    (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && url.protocol !== 'data:',
    (route) => {
      const u = new URL(route.request().url())
      outside.push(u.href)
      if (u.hostname === 'img.shields.io' || /\.(svg|png)$/i.test(u.pathname)) {
        return route.fulfill({ status: 200, contentType: 'image/svg+xml', body: BADGE_SVG })
      }
      return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not reachable in tests' })
    },
  )
  return {
    context,
    outside,
    async newPage() {
      const page = await context.newPage()
      page.errors = [] // uncaught exceptions
      page.consoleErrors = []
      page.dialogs = []
      page.on('pageerror', (e) => page.errors.push(String(e)))
      page.on('console', (m) => {
        if (m.type() === 'error') page.consoleErrors.push(m.text())
      })
      page.on('dialog', (d) => {
        page.dialogs.push(d.message())
        void d.dismiss()
      })
      return page
    },
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

export async function signIn(page, server, login, password = PASSWORD) {
  await page.goto(`${server.url}/login`)
  await page.fill('#login-name', login)
  await page.fill('#login-password', password)
  await page.click('#login-submit')
  await page.waitForURL(`${server.url}/settings`)
  await page.waitForSelector('#profile')
}

/** A fresh browser (`launch` options) with one page signed in as `login`. */
export async function signedIn(server, login, options = {}) {
  const browser = await launch(options)
  try {
    const page = await browser.newPage()
    await signIn(page, server, login)
    return { browser, page }
  } catch (err) {
    await browser.close()
    throw err
  }
}

/** Retry a flaky step (drag and drop) a few times, as FRONTEND.md suggests. */
export async function retry(times, fn) {
  let last
  for (let i = 0; i < times; i++) {
    try {
      return await fn(i)
    } catch (e) {
      last = e
    }
  }
  throw last
}

// Evaluated through the DevTools protocol: the page's CSP (rightly) refuses injected scripts.
let axeSource = null

/** axe-core's WCAG 2.1 AA and best-practice violations in `scope` (a selector; the page by default). */
export async function axeViolations(page, scope = null) {
  axeSource ??= readFileSync(join(UI_DIR, 'node_modules/axe-core/axe.min.js'), 'utf8')
  await page.evaluate(axeSource)
  return page.evaluate(async (sel) => {
    const r = await window.axe.run(sel ? document.querySelector(sel) : document, {
      runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'],
    })
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  }, scope)
}

/** Console messages that report a Content-Security-Policy violation. */
export function cspViolations(page) {
  return page.consoleErrors.filter((m) => /Content Security Policy/i.test(m))
}

export { sleep }
