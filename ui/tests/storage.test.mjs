// Storage in Settings and on a team's page, in English and Korean, at 1280 and 390 px,
// with axe-core: the total against the operator's quota, a meter, and each project's
// runs, files and logs. Then Export my data: started by keyboard, built in the
// background, downloaded as a ZIP with the session.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, gqlWithKey, shot, signedIn, startServer } from './helpers.mjs'

const text = async (page, sel) => (await page.textContent(sel)).replace(/\s+/g, ' ').trim()

async function upload(server, key, entity, bytes) {
  const made = await gqlWithKey(server, key, `mutation { upsertBucket(input: {name: "r1", modelName: "vision", entityName: "${entity}"}) { bucket { id } } }`)
  assert.equal(made.body.errors, undefined, JSON.stringify(made.body))
  const files = await gqlWithKey(server, key, `mutation { createRunFiles(input: {entityName: "${entity}", projectName: "vision", runName: "r1", files: ["weights.bin"]}) { files { uploadUrl } } }`)
  const put = await fetch(files.body.data.createRunFiles.files[0].uploadUrl, { method: 'PUT', body: Buffer.alloc(bytes, 1) })
  assert.equal(put.status, 200)
}

describe('Storage', () => {
  let server, key

  before(async () => {
    server = await startServer({ env: { FULCRUM_USER_STORAGE_QUOTA_BYTES: String(4 * 1024 * 1024) } })
    createUser(server, 'ada', { name: 'Ada' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'seed'])
    await upload(server, key, 'ada', 1024 * 1024)
    const team = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "lab"}) { entity { name } } }')
    assert.equal(team.body.errors, undefined, JSON.stringify(team.body))
    await upload(server, key, 'lab', 2048)
  })
  after(() => server?.stop())

  test('Settings and the team page show what is stored, by project', async () => {
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await page.goto(`${server.url}/settings#storage`)
      await page.waitForSelector('#storage [data-project="vision"]')
      assert.match(await text(page, '#storage-total'), /^1\.0 MiB of 4\.0 MiB used$/)
      assert.equal(await page.getAttribute('#storage progress', 'value'), '25')
      assert.equal(await text(page, '#storage [data-project="vision"] td:nth-child(3)'), '1.0 MiB')
      assert.deepEqual(await axeViolations(page, '#storage'), [])
      await page.setViewportSize({ width: 390, height: 844 })
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), 'fits a phone')
      await shot(page, 'storage-390')
      await page.setViewportSize({ width: 1280, height: 900 })

      await page.goto(`${server.url}/lab`)
      await page.waitForSelector('#team-storage [data-project="vision"]')
      assert.equal(await text(page, '#team-storage-total'), '2.0 KiB used', 'teams have no quota here')
      assert.deepEqual(await axeViolations(page, '#team-storage'), [])
    } finally {
      await browser.close()
    }
  })

  test('Export my data: built in the background, then downloaded', async () => {
    const { browser, page } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await page.goto(`${server.url}/settings#export`)
      await page.waitForSelector('#export-start:not([disabled])')
      assert.equal(await text(page, '#export-start'), '내 데이터 내보내기')
      await page.focus('#export-start')
      await page.keyboard.press('Enter')
      await page.waitForSelector('#export-list [data-status="ready"] .export-download', { timeout: 20000 })
      assert.deepEqual(await axeViolations(page, '#export'), [])
      await shot(page, 'export-ko')
      const href = await page.getAttribute('#export-list [data-status="ready"] .export-download', 'href')
      const head = await page.evaluate(async (h) => {
        const r = await fetch(h)
        const b = new Uint8Array(await r.arrayBuffer())
        return { status: r.status, magic: String.fromCharCode(b[0], b[1]), disposition: r.headers.get('content-disposition') }
      }, href)
      assert.equal(head.status, 200)
      assert.equal(head.magic, 'PK', 'a ZIP archive')
      assert.match(head.disposition, /fulcrum-export-ada-/)
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }
  })

  test('in Korean', async () => {
    const { browser, page } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await page.goto(`${server.url}/settings#storage`)
      await page.waitForSelector('#storage [data-project="vision"]')
      assert.equal(await text(page, '#storage-title'), '스토리지')
      assert.equal(await text(page, '#storage-total'), '4.0 MiB 중 1.0 MiB 사용 중')
      assert.equal(await page.$eval('#storage .muted', (e) => getComputedStyle(e).wordBreak), 'keep-all')
    } finally {
      await browser.close()
    }
  })
})
