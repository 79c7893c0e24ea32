// Settings → Beta features in English and Korean: dark mode follows the system until the
// person chooses, then follows them to another device; a team admin switches Code saving
// for the team; a feature a site admin withdrew is not listed; the run page shows
// structured console lines as columns and the code the SDK saved. axe-core in dark mode.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, gqlWithKey, shot, signedIn, startServer } from './helpers.mjs'

const theme = (page) => page.evaluate(() => document.documentElement.dataset.theme)
const waitTheme = (page, want) => page.waitForFunction((w) => document.documentElement.dataset.theme === w, want)

async function post(server, key, path, body) {
  const r = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}` },
    body: JSON.stringify(body),
  })
  const text = await r.text()
  assert.equal(r.status, 200, text)
  return JSON.parse(text)
}

// A run as the SDK logs it with Structured console logs and Code saving on.
async function seedRun(server, key) {
  await post(server, key, '/graphql', { query: 'mutation { upsertBucket(input: {name: "st1", modelName: "beta", entityName: "ada"}) { bucket { id } } }' })
  const line = (content, extra = {}) => JSON.stringify({ ts: '2026-12-07T09:00:00.123456', label: 'node-1', content, ...extra })
  const files = { 'output.log': { offset: 0, content: [line('epoch 1 done'), line('disk is slow', { level: 'error' })] } }
  await post(server, key, '/files/ada/beta/st1/file_stream', { files })
  const created = await post(server, key, '/graphql', {
    query: 'mutation { createRunFiles(input: {entityName: "ada", projectName: "beta", runName: "st1", files: ["code/train.py"]}) { files { uploadUrl } } }',
  })
  const put = await fetch(created.data.createRunFiles.files[0].uploadUrl, { method: 'PUT', body: 'import wandb\nrun = wandb.init()\n' })
  assert.equal(put.status, 200)
}

describe('Beta features', () => {
  let server, key

  before(async () => {
    server = await startServer()
    createUser(server, 'ada', { name: 'Ada' })
    createUser(server, 'bob', { name: 'Bob' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'seed'])
    await seedRun(server, key)
  })
  after(() => server?.stop())

  test('dark mode follows the system until chosen, then the person to another device', async () => {
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await page.emulateMedia({ colorScheme: 'light' })
      await page.goto(`${server.url}/settings#beta`)
      await page.waitForSelector('#beta [data-beta="dark_mode"]')
      const keys = await page.$$eval('#beta [data-beta]', (li) => li.map((e) => e.dataset.beta))
      assert.deepEqual(keys, ['dark_mode', 'code_saving', 'structured_console_logs'])
      assert.equal(await theme(page), 'light')
      await page.emulateMedia({ colorScheme: 'dark' })
      await waitTheme(page, 'dark')
      assert.ok(await page.isChecked('[data-beta="dark_mode"] input'), 'the switch shows what is in effect')
      assert.ok(await page.isVisible('[data-beta="dark_mode"] .beta-system'))
      await page.emulateMedia({ colorScheme: 'light' })
      await waitTheme(page, 'light')

      // By keyboard: the switch takes focus and Space.
      await page.focus('[data-beta="dark_mode"] input')
      await page.keyboard.press('Space')
      await waitTheme(page, 'dark')
      await page.waitForSelector('[data-beta="dark_mode"] [data-beta-reset]')
      assert.deepEqual(await axeViolations(page), [], 'Settings passes axe in dark mode')
      await shot(page, 'beta-settings-dark-1280')
      await page.setViewportSize({ width: 390, height: 844 })
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), 'fits a phone')
      await shot(page, 'beta-settings-dark-390')
      await page.setViewportSize({ width: 1280, height: 900 })

      // The run page in dark mode: structured console as columns, and the saved code.
      await page.goto(`${server.url}/ada/beta/runs/st1`)
      await page.waitForSelector('#run-console .console-structured tbody tr')
      const heads = await page.$$eval('#run-console th', (th) => th.map((e) => e.textContent.trim()))
      assert.deepEqual(heads, ['Time', 'Label', 'Output'])
      const rows = await page.$$eval('#run-console tbody tr', (tr) => tr.map((r) => [r.dataset.level, r.querySelector('.console-label').textContent, r.querySelector('.console-text').textContent]))
      assert.deepEqual(rows, [
        ['info', 'node-1', 'epoch 1 done'],
        ['error', 'node-1', 'Error output: disk is slow'],
      ])
      await page.waitForSelector('#run-code pre code')
      assert.equal(await page.textContent('#run-code pre code'), 'import wandb\nrun = wandb.init()\n')
      assert.equal((await page.textContent('#run-code .code-name a')).trim(), 'train.py')
      assert.deepEqual(await axeViolations(page), [], 'the run page passes axe in dark mode')
      await shot(page, 'beta-run-dark-1280')
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }

    // Another device, in Korean, with a light system: the choice comes with the account.
    const { browser: other, page: p } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await p.emulateMedia({ colorScheme: 'light' })
      await p.goto(`${server.url}/settings#beta`)
      await waitTheme(p, 'dark')
      await p.waitForSelector('#beta [data-beta="dark_mode"]')
      assert.equal((await p.textContent('#beta-title')).trim(), '베타 기능')
      assert.equal((await p.textContent('[data-beta="dark_mode"] .beta-name')).trim(), '다크 모드')
      assert.equal(await p.$eval('#beta .help', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      assert.deepEqual(await axeViolations(p), [])
      await shot(p, 'beta-settings-ko-dark')
      await p.click('[data-beta="dark_mode"] [data-beta-reset]')
      await waitTheme(p, 'light')
      await p.waitForSelector('[data-beta="dark_mode"] .beta-system')
      assert.equal(await p.$('[data-beta="dark_mode"] [data-beta-reset]'), null)
    } finally {
      await other.close()
    }
  })

  test('a team admin switches Code saving for the team; members follow it', async () => {
    const made = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "beta-lab"}) { entity { name } } }')
    assert.equal(made.body.errors, undefined, JSON.stringify(made.body))
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await page.goto(`${server.url}/beta-lab`)
      await page.waitForSelector('#team-beta [data-beta="code_saving"]')
      const keys = await page.$$eval('#team-beta [data-beta]', (li) => li.map((e) => e.dataset.beta))
      assert.deepEqual(keys, ['code_saving'], 'teams have only Code saving')
      await page.click('#team-beta [data-beta="code_saving"] input')
      await page.waitForFunction(() => document.querySelector('#team-beta [data-beta="code_saving"] input').checked)
      const entity = await gqlWithKey(server, key, '{ entity(name: "beta-lab") { codeSavingEnabled } }')
      assert.equal(entity.body.data.entity.codeSavingEnabled, true)
      assert.deepEqual(await axeViolations(page, '#team-beta'), [])
    } finally {
      await browser.close()
    }
  })

  test('a feature a site admin withdrew is not listed', async () => {
    admin(server, ['setting', 'beta.structured_console_logs', 'false'])
    const { browser, page } = await signedIn(server, 'bob')
    try {
      await page.goto(`${server.url}/settings#beta`)
      await page.waitForSelector('#beta [data-beta="dark_mode"]')
      const keys = await page.$$eval('#beta [data-beta]', (li) => li.map((e) => e.dataset.beta))
      assert.deepEqual(keys, ['dark_mode', 'code_saving'])
      await page.click('#beta [data-beta="code_saving"] input')
      await page.waitForFunction(() => document.querySelector('#beta [data-beta="code_saving"] input').checked)
      assert.equal(await page.$('#beta [role="alert"]'), null)
    } finally {
      await browser.close()
      admin(server, ['setting', 'beta.structured_console_logs', 'true'])
    }
  })
})
