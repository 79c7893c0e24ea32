// Account security in Settings: sessions (another browser signed out), change password
// (wrong current password, mismatch, success and its mail), change email (the link to the
// new address, the old one told), sudo mode before an API key, the security events, and
// the section in Korean at 390 px — against the real binary and a loopback SMTP sink.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PASSWORD, axeViolations, createUser, launch, shot, signedIn, sleep, startServer } from './helpers.mjs'
import { linkToken, startSmtpSink } from './smtp.mjs'

const NEW_PASSWORD = 'a much longer passphrase'
const SUDO_SECONDS = 3

describe('Account security', () => {
  let sink, server, ada, page

  async function openSection(p = page) {
    await p.goto(`${server.url}/settings#security`)
    // from another /settings#… the goto stays in the document: load the page anew
    await p.reload()
    await p.waitForSelector('#session-list')
    await p.waitForSelector('#security-events, #security .muted')
  }

  before(async () => {
    sink = await startSmtpSink()
    server = await startServer({ env: { ...sink.env, FULCRUM_SUDO_SECONDS: String(SUDO_SECONDS) } })
    createUser(server, 'ada', { name: 'Ada' })
    ;({ browser: ada, page } = await signedIn(server, 'ada'))
    await openSection()
  })
  after(async () => {
    await ada?.close()
    await server?.stop()
    await sink?.close()
  })

  test('the section lists this session and passes axe', async () => {
    assert.equal((await page.textContent('#security-title')).trim(), 'Account security')
    assert.equal(await page.locator('#session-list li').count(), 1)
    assert.equal((await page.textContent('#this-session')).trim(), 'This device')
    assert.match(await page.textContent('#session-list'), /Chrome on Linux/)
    assert.deepEqual(await axeViolations(page, '#security'), [])
  })

  test('signing out all other sessions ends another browser', async () => {
    const other = await signedIn(server, 'ada')
    try {
      await page.reload()
      await page.waitForSelector('#session-list li:nth-child(2)')
      await page.click('#end-other-sessions')
      await page.waitForSelector('#sessions-message')
      assert.match(await page.textContent('#sessions-message'), /1 other session was signed out/)
      assert.equal(await page.locator('#session-list li').count(), 1)
      await other.page.goto(`${server.url}/settings`)
      await other.page.waitForURL(/\/login/)
    } finally {
      await other.browser.close()
    }
  })

  test('changing the password checks the current one and mails the owner', async () => {
    await page.fill('#current-password', 'not my password')
    await page.fill('#new-password', NEW_PASSWORD)
    await page.fill('#confirm-password', NEW_PASSWORD)
    await page.click('#password-save')
    await page.waitForSelector('#current-password-error')
    assert.match(await page.textContent('#current-password-error'), /not your current password/)
    assert.equal(await page.getAttribute('#current-password', 'aria-invalid'), 'true')
    assert.equal(await page.getAttribute('#current-password', 'aria-describedby'), 'current-password-error')

    await page.fill('#current-password', PASSWORD)
    await page.fill('#confirm-password', 'something else')
    await page.click('#password-save')
    await page.waitForSelector('#confirm-password-error')

    await page.fill('#confirm-password', NEW_PASSWORD)
    await page.click('#password-save')
    await page.waitForSelector('#password-done')
    assert.match(await page.textContent('#password-done'), /Password changed/)
    const mail = await sink.waitFor((m) => m.subject === 'Your Fulcrum password was changed')
    assert.deepEqual(mail.to, ['ada@example.com'])
    assert.match(mail.text, /\/settings#security/)
  })

  test('changing the email waits for the link sent to the new address', async () => {
    await page.fill('#new-email', 'ada@new.example')
    await page.fill('#email-password', NEW_PASSWORD)
    await page.click('#email-save')
    await page.waitForSelector('#email-done')
    assert.match(await page.textContent('#email-done'), /We sent a confirmation link to ada@new\.example/)
    const mail = await sink.waitFor('ada@new.example')
    assert.equal(mail.subject, 'Confirm your new email address for Fulcrum')
    const token = linkToken(mail, '/verify-email')
    assert.ok(token, mail.text)
    await page.goto(`${server.url}/verify-email#token=${token}`)
    await page.waitForSelector('#verify-email-page')
    await page.waitForFunction(() => !/Loading|불러오는/.test(document.querySelector('#verify-email-page')?.textContent ?? 'Loading'))
    const told = await sink.waitFor((m) => m.subject === 'Your Fulcrum email address was changed')
    assert.deepEqual(told.to, ['ada@example.com'])
    assert.match(told.text, /ada@new\.example/)
    await openSection()
    await page.waitForFunction(() => /ada@new\.example/.test(document.querySelector('#email-current')?.textContent ?? ''))
  })

  test('an API key asks for the password again once the sign-in is old', async () => {
    await sleep(SUDO_SECONDS * 1000 + 500)
    await page.goto(`${server.url}/settings#api-keys`)
    await page.waitForSelector('#api-keys-table, #api-keys-empty')
    await page.click('#create-key')
    // the dialog starts on its first field, not on ×
    await page.waitForFunction(() => document.activeElement?.id === 'key-name')
    await page.fill('#key-name', 'laptop')
    await page.click('#create-key-submit')
    await page.waitForSelector('#key-password')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-password')
    assert.match(await page.textContent('#key-reauth-note'), /confirm your password/)
    await page.fill('#key-password', NEW_PASSWORD)
    await page.click('#create-key-submit')
    await page.waitForSelector('#new-key')
    assert.match(await page.inputValue('#new-key'), /^fk-/)
    await page.click('#close-key-dialog')
  })

  test('the security events tell what happened, failures first to the eye', async () => {
    await openSection()
    const actions = await page.locator('#security-events li').evaluateAll((els) => els.map((e) => e.dataset.action))
    for (const a of ['api_key.create', 'session.reauth', 'user.email_change', 'user.password_change', 'login.failure', 'login.success'])
      assert.ok(actions.includes(a), `${a} in ${actions}`)
    const failure = page.locator('#security-events li.failure').first()
    assert.match(await failure.textContent(), /Wrong password typed to confirm a change/)
    assert.match(await failure.textContent(), /127\.0\.0\.1/)
    await shot(page, 'security-1280')
  })

  test('in Korean at 390 px the section fits and wraps by words', async () => {
    // the password changed above: sign in with the new one
    const { browser, page: p } = await signInKorean()
    try {
      await p.setViewportSize({ width: 390, height: 844 })
      await openSection(p)
      assert.equal((await p.textContent('#security-title')).trim(), '계정 보안')
      const fit = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])
      assert.ok(fit[0] <= fit[1], `page ${fit[0]} px wide in a ${fit[1]} px window`)
      const wrap = await p.$eval('#security .muted', (el) => getComputedStyle(el).wordBreak)
      assert.equal(wrap, 'keep-all')
      assert.deepEqual(await axeViolations(p, '#security'), [])
      await shot(p, 'security-ko-390')
    } finally {
      await browser.close()
    }
  })

  async function signInKorean() {
    const browser = await launch({ locale: 'ko-KR' })
    const p = await browser.newPage()
    await p.goto(`${server.url}/login`)
    await p.fill('#login-name', 'ada@new.example')
    await p.fill('#login-password', NEW_PASSWORD)
    await p.click('#login-submit')
    await p.waitForURL(`${server.url}/settings`)
    return { browser, page: p }
  }
})
