// First-admin setup from the printed link, sign in, sign out, log out everywhere,
// routes and the shell (top bar, language switch, user menu, no inline scripts).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PASSWORD, createUser, cspViolations, launch, shot, signIn, startServer } from './helpers.mjs'

describe('setup and sign-in', () => {
  let server, browser, page

  before(async () => {
    server = await startServer()
    browser = await launch()
    page = await browser.newPage()
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  test('an empty server redirects / to the setup page and login says setup is needed', async () => {
    await page.goto(`${server.url}/`)
    await page.waitForURL(/\/(setup|login)$/)
    await page.goto(`${server.url}/login`)
    await page.waitForSelector('#login-needs-setup')
    await page.goto(`${server.url}/setup`)
    await page.waitForSelector('#setup-missing-token')
    await shot(page, 'setup-without-token')
  })

  test('the printed one-time link creates the first admin', async () => {
    assert.ok(server.setupLink, `no setup link in the server output:\n${server.output()}`)
    assert.match(server.setupLink, /\/setup#token=/)
    await page.goto(server.setupLink)
    await page.waitForSelector('#setup-username')
    // the token is read and removed from the address bar at once
    assert.equal(new URL(page.url()).hash, '')
    await shot(page, 'setup-form')

    // client-side checks
    await page.fill('#setup-username', 'ada')
    await page.fill('#setup-email', 'ada@example.com')
    await page.fill('#setup-password', 'short')
    await page.fill('#setup-confirm', 'short')
    await page.click('#setup-submit')
    await page.waitForSelector('#setup-password-error')
    assert.match(await page.textContent('#setup-password-error'), /at least 8/)

    // a reserved username comes back from the server, translated, under the field
    await page.fill('#setup-username', 'settings')
    await page.fill('#setup-password', PASSWORD)
    await page.fill('#setup-confirm', PASSWORD)
    await page.click('#setup-submit')
    await page.waitForSelector('#setup-username-error')
    assert.match(await page.textContent('#setup-username-error'), /reserved/)
    await shot(page, 'setup-validation')

    await page.fill('#setup-username', 'ada')
    await page.fill('#setup-name', 'Ada Lovelace')
    await page.click('#setup-submit')
    await page.waitForURL(`${server.url}/settings`)
    await page.waitForSelector('#profile')
    assert.equal(await page.inputValue('#profile-name'), 'Ada Lovelace')
    await shot(page, 'settings-after-setup')
  })

  test('the setup link works only once', async () => {
    const res = await page.evaluate(async (token) => {
      const r = await fetch('/api/v1/setup', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token, username: 'eve', email: 'eve@example.com', password: 'long enough pw' }),
      })
      return { status: r.status, body: await r.json() }
    }, new URL(server.setupLink).hash.replace('#token=', ''))
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`)
    assert.equal(res.body.errors[0].extensions.code, 'setup_token_invalid')
  })

  test('the top bar has the language switch and the user menu with Settings, profile and log out', async () => {
    assert.equal(await page.locator('#lang-switch').isVisible(), true)
    const options = await page.locator('#lang-switch option').allTextContents()
    assert.deepEqual(options, ['English', '한국어'])
    await page.click('#user-menu-button')
    await page.waitForSelector('#user-menu')
    assert.equal((await page.textContent('#menu-settings')).trim(), 'Settings')
    assert.equal(await page.getAttribute('#menu-profile', 'href'), '/ada')
    assert.equal((await page.textContent('#logout')).trim(), 'Log out')
    assert.equal((await page.textContent('#logout-everywhere')).trim(), 'Log out everywhere')
    await shot(page, 'user-menu')
    await page.click('#menu-profile')
    await page.waitForURL(`${server.url}/ada`)
    await page.waitForSelector('#public-profile')
    await page.click('#user-menu-button')
    await page.click('#menu-settings')
    await page.waitForURL(`${server.url}/settings`)
  })

  test('settings shows its sections in the seed\'s order, reachable by anchors; no inline scripts', async () => {
    await page.goto(`${server.url}/settings#api-keys`)
    await page.waitForSelector('#api-keys-table')
    await page.waitForSelector('#teams-table')
    // Default team appears only with a second place to create projects (teams.test.mjs)
    const headings = await page.locator('.settings-sections h2').allTextContents()
    assert.deepEqual(headings, ['Profile', 'Teams', 'API keys', 'Account security', 'Beta features', 'Alerts', 'Personal GitHub integration', 'Storage', 'Export my data', 'Delete account'])
    const body = await page.textContent('body')
    assert.ok(!body.includes('Default team'), 'no Default team section with one place to create projects')
    const inline = await page.evaluate(() => [...document.scripts].filter((s) => !s.src).length)
    assert.equal(inline, 0)
    // scrolled to the anchor (or as far as the page allows)
    const pos = await page.evaluate(() => ({
      top: document.getElementById('api-keys').getBoundingClientRect().top,
      atEnd: window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2,
    }))
    assert.ok(pos.top < 120 || pos.atEnd, `#api-keys is scrolled into view (${JSON.stringify(pos)})`)
    // the side nav marks the section being read, and follows the scroll
    await page.waitForFunction(() => document.querySelector('.settings-nav [aria-current]')?.getAttribute('href') === '/settings#api-keys')
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.waitForFunction(() => document.querySelector('.settings-nav [aria-current]')?.getAttribute('href') === '/settings#profile')
    const res = await page.request.get(`${server.url}/settings`)
    const csp = res.headers()['content-security-policy'] ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/)
  })

  test('the user menu works by keyboard: arrows, Home, End, Escape', async () => {
    await page.focus('#user-menu-button')
    await page.keyboard.press('ArrowDown')
    await page.waitForSelector('#user-menu')
    const focused = () => page.evaluate(() => document.activeElement?.id)
    await page.waitForFunction(() => document.activeElement?.id === 'menu-settings')
    await page.keyboard.press('ArrowDown')
    assert.equal(await focused(), 'menu-profile')
    await page.keyboard.press('End')
    assert.equal(await focused(), 'logout-everywhere')
    await page.keyboard.press('ArrowDown')
    assert.equal(await focused(), 'menu-settings', 'wraps around')
    await page.keyboard.press('ArrowUp')
    assert.equal(await focused(), 'logout-everywhere')
    await page.keyboard.press('Home')
    assert.equal(await focused(), 'menu-settings')
    await page.keyboard.press('Escape')
    await page.waitForSelector('#user-menu', { state: 'detached' })
    assert.equal(await focused(), 'user-menu-button')
  })

  test('sign out, wrong password, sign in again', async () => {
    await page.click('#user-menu-button')
    await page.click('#logout')
    await page.waitForURL(`${server.url}/login`)
    await page.goto(`${server.url}/settings`)
    await page.waitForURL(`${server.url}/login`)
    await page.fill('#login-name', 'ada')
    await page.fill('#login-password', 'not the password')
    await page.click('#login-submit')
    await page.waitForSelector('#login-error')
    assert.match(await page.textContent('#login-error'), /not correct/)
    await shot(page, 'login-failed')
    await page.fill('#login-password', PASSWORD)
    await page.click('#login-submit')
    await page.waitForURL(`${server.url}/settings`)
    // signed in, / leads to the settings
    await page.goto(`${server.url}/`)
    await page.waitForURL(`${server.url}/settings`)
    // signing in with the email works too
    await page.click('#user-menu-button')
    await page.click('#logout')
    await page.waitForURL(`${server.url}/login`)
    await shot(page, 'login')
    await signIn(page, server, 'ada@example.com')
  })

  test('log out everywhere ends the other sessions too', async () => {
    createUser(server, 'bob', { name: 'Bob' })
    const other = await launch()
    try {
      const p2 = await other.newPage()
      await signIn(p2, server, 'bob')
      const p3 = await other.newPage() // same browser, same cookie
      await p3.goto(`${server.url}/settings`)
      await p3.waitForSelector('#profile')
      // a second browser with its own session for bob
      const third = await launch()
      try {
        const p4 = await third.newPage()
        await signIn(p4, server, 'bob')
        await p2.click('#user-menu-button')
        await p2.click('#logout-everywhere')
        await p2.waitForURL(`${server.url}/login`)
        // the other browser, still showing the settings, is sent to the sign-in page on its next call
        await p4.click('#create-key')
        await p4.waitForSelector('#create-key-dialog[open] #key-name')
        await p4.click('#create-key-submit')
        await p4.waitForURL(`${server.url}/login`)
        await p4.goto(`${server.url}/settings`)
        await p4.waitForURL(`${server.url}/login`)
        await shot(p4, 'after-logout-everywhere')
      } finally {
        await third.close()
      }
    } finally {
      await other.close()
    }
    // ada's session is untouched
    await page.goto(`${server.url}/settings`)
    await page.waitForSelector('#profile')
  })

  test('unknown paths fall back to the app; unknown users show a not-found page', async () => {
    await page.goto(`${server.url}/no-such-user`)
    await page.waitForSelector('#user-not-found')
    await shot(page, 'user-not-found')
    await page.goto(`${server.url}/some/deep/path`)
    await page.waitForSelector('#not-found')
    assert.deepEqual(page.errors, [])
    assert.deepEqual(cspViolations(page), [])
  })
})
