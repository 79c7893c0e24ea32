// The API keys section: table, Create new API key (shown once, Copy), Delete with confirmation,
// and the key used with the real wandb SDK before and after deletion.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { REPO_DIR, createUser, cspViolations, launch, shot, signIn, sleep, startServer } from './helpers.mjs'

const PYTHON = resolve(REPO_DIR, process.env.WANDB_PYTHON ?? 'target/sdk-venvs/wandb-0.31.0/bin/python')

/** Ask the real wandb SDK who the key belongs to. The key travels in the environment only. */
function sdkViewer(url, key) {
  const home = mkdtempSync(join(tmpdir(), 'fulcrum-ui-sdk-'))
  // no WANDB_* variables except the base URL; a fresh HOME so no ~/.netrc or settings apply
  const env = { PATH: process.env.PATH, HOME: home, WANDB_BASE_URL: url, FULCRUM_TEST_KEY: key }
  const code = [
    'import os, wandb',
    "api = wandb.Api(api_key=os.environ['FULCRUM_TEST_KEY'], overrides={'base_url': os.environ['WANDB_BASE_URL']})",
    'print(api.viewer.username)',
  ].join('\n')
  try {
    const r = spawnSync(PYTHON, ['-c', code], { env, encoding: 'utf8', timeout: 120_000 })
    return { status: r.status, out: (r.stdout ?? '').trim(), err: r.stderr ?? '' }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

describe('API keys section', () => {
  let server, browser, page
  let fullKey

  before(async () => {
    server = await startServer()
    createUser(server, 'ada', { name: 'Ada' })
    browser = await launch()
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    page = await browser.newPage()
    await signIn(page, server, 'ada')
    await page.goto(`${server.url}/settings#api-keys`)
    await page.waitForSelector('#api-keys-table')
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  test('the table has the seed columns and a note on storing keys', async () => {
    const heads = (await page.locator('#api-keys-table thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads.slice(0, 4), ['Key ID', 'Name', 'Created', 'Last used'])
    assert.equal((await page.textContent('#api-keys-title')).trim(), 'API keys')
    assert.equal((await page.textContent('#create-key')).trim(), 'Create new API key')
    const note = await page.textContent('#api-keys-note')
    assert.match(note, /secrets manager/)
    assert.match(note, /password manager/)
    assert.match(note, /WANDB_API_KEY/)
    assert.match(note, /never on the command line or in git/)
    assert.match(note, /every wandb SDK version/)
    await page.waitForSelector('#api-keys-empty')
    await shot(page, 'api-keys-empty')
  })

  test('Create new API key asks for a name, then shows the full key once with Copy', async () => {
    await page.click('#create-key')
    await page.waitForSelector('#create-key-dialog[open] #key-name')
    assert.equal((await page.textContent('#create-key-dialog-title')).trim(), 'Create new API key')
    assert.equal((await page.textContent('#create-key-submit')).trim(), 'Create')
    await page.fill('#key-name', 'laptop training runs')
    await shot(page, 'api-keys-create-dialog')
    await page.click('#create-key-submit')
    await page.waitForSelector('#new-key')
    fullKey = await page.inputValue('#new-key')
    assert.match(fullKey, /^[a-z]+-[A-Za-z0-9]{20,}$/)
    assert.match(await page.textContent('#new-key-warning'), /will not be shown again/)
    await shot(page, 'api-keys-created')
    await page.click('#copy-key')
    await page.waitForFunction(() => document.querySelector('#copy-key').textContent.trim() === 'Copied')
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), fullKey)

    await page.click('#close-key-dialog')
    await page.waitForSelector('#create-key-dialog:not([open])', { state: 'attached' })
    // the key is gone from the page, the address bar and storage
    const traces = await page.evaluate(
      (k) => ({
        dom: document.documentElement.outerHTML.includes(k),
        url: location.href.includes(k),
        local: JSON.stringify({ ...localStorage }).includes(k),
        session: JSON.stringify({ ...sessionStorage }).includes(k),
      }),
      fullKey,
    )
    assert.deepEqual(traces, { dom: false, url: false, local: false, session: false })
    // opening the dialog again asks for a new name; the key is not re-fetchable
    await page.click('#create-key')
    await page.waitForSelector('#create-key-dialog[open] #key-name')
    assert.equal(await page.locator('#new-key').count(), 0)
    await page.keyboard.press('Escape')
    await page.waitForSelector('#create-key-dialog:not([open])', { state: 'attached' })

    const row = page.locator('#api-keys-table tbody tr[data-key-id]')
    assert.equal(await row.count(), 1)
    const keyId = (await row.locator('.key-id').textContent()).trim()
    assert.ok(fullKey.startsWith(keyId), `Key ID ${keyId} is the start of the key`)
    assert.ok(keyId.length < fullKey.length)
    assert.equal((await row.locator('.key-name').textContent()).trim(), 'laptop training runs')
    assert.equal((await row.locator('.key-last-used').textContent()).trim(), 'Never')
    assert.match((await row.locator('.key-created').textContent()).trim(), /\d{4}/)
    await shot(page, 'api-keys-table')
  })

  test('the key works with the real wandb SDK; Last used is filled in', { skip: !existsSync(PYTHON) && `no SDK at ${PYTHON} (run tests/sdk/run.sh)` }, async () => {
    const r = sdkViewer(server.url, fullKey)
    assert.equal(r.status, 0, r.err)
    assert.equal(r.out.split('\n').pop(), 'ada')
    let lastUsed = 'Never'
    for (let i = 0; i < 20 && lastUsed === 'Never'; i++) {
      await sleep(500)
      await page.reload()
      await page.waitForSelector('#api-keys-table tbody tr[data-key-id]')
      lastUsed = (await page.locator('#api-keys-table .key-last-used').first().textContent()).trim()
    }
    assert.notEqual(lastUsed, 'Never')
    await shot(page, 'api-keys-last-used')
  })

  test('Delete asks for confirmation naming the key; Cancel keeps it', async () => {
    const row = page.locator('#api-keys-table tbody tr[data-key-id]').first()
    const keyId = (await row.locator('.key-id').textContent()).trim()
    await row.locator('.delete-key').click()
    await page.waitForSelector('#delete-key-dialog[open]')
    const text = await page.textContent('#delete-key-text')
    assert.ok(text.includes(keyId), text)
    assert.ok(text.includes('laptop training runs'), text)
    await shot(page, 'api-keys-delete-confirm')
    await page.click('#cancel-delete-key')
    await page.waitForSelector('#delete-key-dialog:not([open])', { state: 'attached' })
    assert.equal(await page.locator('#api-keys-table tbody tr[data-key-id]').count(), 1)

    await row.locator('.delete-key').click()
    await page.waitForSelector('#delete-key-dialog[open]')
    await page.click('#confirm-delete-key')
    await page.waitForSelector('#api-keys-empty')
    await page.reload()
    await page.waitForSelector('#api-keys-empty')
  })

  test('the deleted key is refused by the SDK', { skip: !existsSync(PYTHON) && `no SDK at ${PYTHON}` }, async () => {
    const r = sdkViewer(server.url, fullKey)
    assert.notEqual(r.status, 0, `SDK still accepted the key: ${r.out}`)
    assert.notEqual(r.out.split('\n').pop(), 'ada')
  })

  test('an invalid name is refused with a translated message', async () => {
    await page.click('#create-key')
    await page.waitForSelector('#create-key-dialog[open] #key-name')
    await page.evaluate(() => document.querySelector('#key-name').removeAttribute('maxlength'))
    await page.fill('#key-name', 'n'.repeat(150))
    await page.click('#create-key-submit')
    await page.waitForSelector('#create-key-error')
    assert.match(await page.textContent('#create-key-error'), /too long \(at most 100 characters\)/)
    await page.keyboard.press('Escape')
    assert.deepEqual(page.errors, [])
    assert.deepEqual(cspViolations(page), [])
  })
})
