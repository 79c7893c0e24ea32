// Every page, in English and Korean, at 1280 px and 390 px: no sideways scrolling, zero
// axe-core violations, Korean wrapped by words (keep-all); every page in dark mode too; and the assets the first paint
// needs come compressed and cached, with the session and viewer asked for at once.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, gqlWithKey, launch, shot, signIn, startServer } from './helpers.mjs'

const WIDTHS = [1280, 390]

/** Elements wider than the window, for the failure message. */
async function overflow(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  return page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth + 1) return []
    return [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 6)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}`)
  })
}

describe('Every page fits, passes axe and wraps Korean by words', () => {
  let server, key
  const pages = [
    ['settings', '/settings', '#security'],
    ['public profile', '/ada', '#public-profile'],
    ['team page', '/lab', '#team-page'],
    ['project page', '/ada/vision', '#project-runs'],
    ['run not found', '/ada/vision/runs/nope', '#main section'],
  ]

  before(async () => {
    server = await startServer()
    createUser(server, 'ada', { name: 'Ada Lovelace' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'a key with a rather long descriptive name'])
    const made = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "lab"}) { entity { id } } }')
    assert.equal(made.status, 200, JSON.stringify(made.body))
    const run = await gqlWithKey(
      server,
      key,
      'mutation { upsertBucket(input: {name: "r1", modelName: "vision", entityName: "ada", displayName: "first run"}) { bucket { id } } }',
    )
    assert.equal(run.status, 200, JSON.stringify(run.body))
  })
  after(async () => {
    await server?.stop()
  })

  for (const locale of ['en-US', 'ko-KR']) {
    test(`${locale}: signed-in pages at ${WIDTHS.join(' and ')} px`, async () => {
      const browser = await launch({ locale })
      try {
        const page = await browser.newPage()
        await signIn(page, server, 'ada')
        for (const width of WIDTHS) {
          await page.setViewportSize({ width, height: 900 })
          for (const [name, path, ready] of pages) {
            await page.goto(`${server.url}${path}`)
            await page.waitForSelector(ready)
            await page.waitForLoadState('networkidle')
            assert.deepEqual(await overflow(page), [], `${name} at ${width} px (${locale}) scrolls sideways`)
            assert.deepEqual(await axeViolations(page), [], `${name} at ${width} px (${locale})`)
            if (locale === 'ko-KR') {
              const wrap = await page.evaluate(() => getComputedStyle(document.querySelector('#main') ?? document.body).wordBreak)
              assert.equal(wrap, 'keep-all', `${name}: Korean wraps by words`)
            }
            await shot(page, `layout-${locale}-${width}-${name.replace(/ /g, '-')}`)
          }
        }
        assert.deepEqual(page.errors, [])
      } finally {
        await browser.close()
      }
    })
  }

  test('dark mode (following the system): every page and the open editor pass axe', async () => {
    const browser = await launch({ locale: 'en-US' })
    try {
      const page = await browser.newPage()
      await page.emulateMedia({ colorScheme: 'dark' })
      await signIn(page, server, 'ada')
      for (const [name, path, ready] of pages) {
        await page.goto(`${server.url}${path}`)
        await page.waitForSelector(ready)
        await page.waitForLoadState('networkidle')
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', name)
        assert.deepEqual(await axeViolations(page), [], `${name} in dark mode`)
        await shot(page, `layout-dark-${name.replace(/ /g, '-')}`)
      }
      await page.goto(`${server.url}/ada`)
      await page.click('#edit-intro')
      await page.waitForSelector('.intro-editor[data-ready="true"] .ProseMirror')
      assert.deepEqual(await axeViolations(page), [], 'the intro editor in dark mode')
      await shot(page, 'layout-dark-editor')
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }
  })

  test('the intro editor, open, fits a phone and passes axe (its lists included)', async () => {
    const browser = await launch({ locale: 'ko-KR' })
    try {
      const page = await browser.newPage()
      await signIn(page, server, 'ada')
      await page.evaluate(async () => {
        const intro = '# 소개\n\n- 하나\n- 둘\n\n1. 첫째\n2. 둘째\n\n- [ ] 할 일\n\n끝.'
        await fetch('/graphql', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ query: 'mutation ($i: String!) { updateIntro(input: {intro: $i}) { user { id } } }', variables: { i: intro } }),
        })
      })
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 900 })
        await page.goto(`${server.url}/ada`)
        await page.click('#edit-intro')
        await page.waitForSelector('.intro-editor[data-ready="true"] .ProseMirror li, .intro-editor[data-ready="true"] [role=listitem]')
        assert.deepEqual(await overflow(page), [], `the editor at ${width} px`)
        assert.deepEqual(await axeViolations(page), [], `the editor at ${width} px`)
        const box = await page.locator('.intro-editor .ProseMirror').boundingBox()
        const text = await page.locator('.intro-editor .ProseMirror h1').boundingBox()
        assert.ok(text.x - box.x < box.width / 4, `the text starts within the first quarter (${text.x - box.x} of ${box.width} px)`)
        await shot(page, `layout-editor-${width}`)
        await page.click('#cancel-intro')
      }
    } finally {
      await browser.close()
    }
  })

  test('dialogs fit a phone and work by keyboard alone', async () => {
    const browser = await launch({ locale: 'ko-KR' })
    try {
      const page = await browser.newPage()
      await signIn(page, server, 'ada')
      await page.setViewportSize({ width: 390, height: 844 })
      await page.goto(`${server.url}/settings#api-keys`)
      await page.waitForSelector('#api-keys-table')
      await page.focus('#create-key')
      await page.keyboard.press('Enter')
      await page.waitForFunction(() => document.activeElement?.id === 'key-name')
      const box = await page.locator('#create-key-dialog').boundingBox()
      assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog spans ${box.x}..${box.x + box.width} of 390 px`)
      assert.deepEqual(await axeViolations(page, '#create-key-dialog'), [])
      await page.keyboard.type('phone key')
      await page.keyboard.press('Enter')
      await page.waitForSelector('#new-key')
      await shot(page, 'layout-dialog-390')
      await page.keyboard.press('Escape')
      await page.waitForSelector('#create-key-dialog[open]', { state: 'detached' })
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'create-key', 'focus returns to the button that opened it')
      // the new key's row, and its Delete dialog, by keyboard too
      await page.waitForSelector('#api-keys-table tr[data-key-id] .delete-key')
      await page.focus('#api-keys-table tr[data-key-id]:last-child .delete-key')
      await page.keyboard.press('Enter')
      await page.waitForSelector('dialog[open]')
      const del = await page.locator('dialog[open]').boundingBox()
      assert.ok(del.x >= 0 && del.x + del.width <= 390, `the delete dialog spans ${del.x}..${del.x + del.width}`)
      await page.keyboard.press('Escape')
      await page.waitForSelector('dialog[open]', { state: 'detached' })
    } finally {
      await browser.close()
    }
  })

  test('the sign-in page fits a phone and passes axe', async () => {
    const browser = await launch({ locale: 'ko-KR' })
    try {
      const page = await browser.newPage()
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 })
        await page.goto(`${server.url}/login`)
        await page.waitForSelector('#login-name')
        assert.deepEqual(await overflow(page), [], `login at ${width} px`)
        assert.deepEqual(await axeViolations(page), [], `login at ${width} px`)
      }
    } finally {
      await browser.close()
    }
  })

  test('the first paint asks for the session and the viewer at once, and assets come compressed', async () => {
    const browser = await launch()
    try {
      const page = await browser.newPage()
      await signIn(page, server, 'ada')
      const started = {}
      const finished = {}
      const encodings = {}
      page.on('request', (r) => {
        const kind = r.url().endsWith('/api/v1/session') ? 'session' : /query Viewer/.test(r.postData() ?? '') ? 'viewer' : null
        if (kind && !(kind in started)) started[kind] = Date.now()
      })
      page.on('response', async (r) => {
        if (r.url().endsWith('/api/v1/session') && !('session' in finished)) finished.session = Date.now()
        if (/\/assets\/.+\.(js|css)$/.test(r.url())) encodings[r.url()] = (await r.allHeaders())['content-encoding'] ?? 'none'
      })
      await page.goto(`${server.url}/settings`)
      await page.waitForSelector('#security')
      assert.ok(started.viewer <= finished.session, `viewer asked at ${started.viewer}, session answered at ${finished.session}`)
      const scripts = Object.entries(encodings)
      assert.ok(scripts.length >= 2, JSON.stringify(encodings))
      for (const [url, enc] of scripts) assert.equal(enc, 'br', `${url} is sent as Brotli`)

      const html = await (await fetch(`${server.url}/settings`)).text()
      const main = /src="(\/assets\/index-[^"]+\.js)"/.exec(html)[1]
      const plain = await fetch(`${server.url}${main}`, { headers: { 'accept-encoding': 'identity' } })
      assert.equal(plain.headers.get('content-encoding'), null)
      assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable')
      const gz = await fetch(`${server.url}${main}`, { headers: { 'accept-encoding': 'gzip' } })
      assert.equal(gz.headers.get('content-encoding'), 'gzip')
      assert.equal(gz.headers.get('vary'), 'accept-encoding')
      // fetch decodes: the same script either way
      assert.equal(await gz.text(), await plain.text())
      assert.equal((await fetch(`${server.url}${main}.br`)).status, 404, 'copies are not served by name')
    } finally {
      await browser.close()
    }
  })
})
