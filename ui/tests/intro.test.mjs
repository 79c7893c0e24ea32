// The intro editor on the public profile page: click a line and type, `/` → Heading,
// drag a block above another, handle → Delete, Save, reload shows it, Cancel discards;
// a badge with only `width` keeps its aspect ratio; XSS attempts in intro and bio do not run.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { BADGE_H, BADGE_W, createUser, cspViolations, retry, shot, signedIn, sleep, startServer } from './helpers.mjs'

const SEED = [
  '# Hello',
  '',
  'First paragraph.',
  '',
  'Second paragraph.',
  '',
  'Third paragraph.',
  '',
].join('\n')

async function gql(page, query, variables) {
  return page.evaluate(
    async ({ query, variables }) => {
      const r = await fetch('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      })
      return { status: r.status, body: await r.json() }
    },
    { query, variables },
  )
}

async function setIntro(page, intro) {
  const r = await gql(page, 'mutation ($intro: String!) { updateIntro(input: {intro: $intro}) { user { intro introHtml } } }', { intro })
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body))
  return r.body.data.updateIntro.user
}

async function openEditor(page) {
  await page.click('#edit-intro')
  await page.waitForSelector('.intro-editor[data-ready="true"] .ProseMirror')
}

/** Paragraph texts / headings of the editor, top to bottom. */
async function blocks(page) {
  return page.$$eval('.intro-editor .ProseMirror > *', (els) => els.map((e) => `${e.tagName.toLowerCase()}:${e.textContent.trim()}`))
}

/** Hover a block until Crepe's handle is shown next to it (the handle lags ~200 ms). */
async function handleFor(page, locator) {
  const box = await locator.boundingBox()
  for (let i = 0; i < 10; i++) {
    await page.mouse.move(box.x + 10 + i, box.y + box.height / 2)
    await sleep(300)
    const handle = page.locator('.milkdown-block-handle[data-show="true"]')
    if (await handle.count()) {
      const hb = await handle.boundingBox()
      if (hb) {
        const mid = hb.y + hb.height / 2
        if (mid >= box.y - 4 && mid <= box.y + box.height + 4) return handle.locator('.operation-item').last()
      }
    }
  }
  throw new Error('the block handle did not appear next to the block')
}

describe('intro editor', () => {
  let server, browser, page

  before(async () => {
    server = await startServer()
    createUser(server, 'grace', { name: 'Grace Hopper' })
    createUser(server, 'mallory', { name: 'Mallory' })
    ;({ browser, page } = await signedIn(server, 'grace'))
    await setIntro(page, SEED)
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  test('"Edit your intro" leads to the public profile; only the owner sees Edit', async () => {
    await page.click('#edit-intro-link')
    await page.waitForURL(`${server.url}/grace`)
    await page.waitForSelector('#intro-content h1')
    assert.equal((await page.textContent('#edit-intro')).trim(), 'Edit')
    await shot(page, 'public-profile-owner')
    await page.goto(`${server.url}/mallory`)
    await page.waitForSelector('#public-profile')
    assert.equal(await page.locator('#edit-intro').count(), 0)
  })

  test('the editor is loaded lazily, only when Edit is clicked', async () => {
    const loaded = []
    page.on('request', (r) => loaded.push(r.url()))
    await page.goto(`${server.url}/grace`)
    await page.waitForSelector('#intro-content')
    assert.ok(!loaded.some((u) => /IntroEditor/.test(u)), 'editor chunk loaded before Edit')
    await openEditor(page)
    assert.ok(loaded.some((u) => /IntroEditor/.test(u)), 'editor chunk not loaded on Edit')
    await shot(page, 'intro-editor-open')
  })

  test('click a line and type', async () => {
    const p = page.locator('.intro-editor .ProseMirror p', { hasText: 'First paragraph.' })
    await p.click()
    await page.keyboard.press('End')
    await page.keyboard.type(' Typed here.')
    await page.waitForSelector('.intro-editor .ProseMirror p:has-text("First paragraph. Typed here.")')
  })

  test('type / and pick Heading 2 from the list', async () => {
    const p = page.locator('.intro-editor .ProseMirror p', { hasText: 'Third paragraph.' })
    await p.click()
    await page.keyboard.press('End')
    await page.keyboard.press('Enter')
    await page.keyboard.type('/')
    const menu = page.locator('.milkdown-slash-menu[data-show="true"]')
    await menu.waitFor()
    const items = await menu.locator('li').allTextContents()
    assert.ok(items.some((t) => t.includes('Heading 2')), `slash menu items: ${items}`)
    assert.ok(!items.some((t) => /Table|Math|Image/.test(t)), `only Markdown blocks the page keeps: ${items}`)
    await shot(page, 'intro-slash-menu')
    await menu.locator('li', { hasText: 'Heading 2' }).click()
    await page.keyboard.type('Projects')
    await page.waitForSelector('.intro-editor .ProseMirror h2:has-text("Projects")')
  })

  test('drag a block above another', async () => {
    await retry(3, async () => {
      const before = await blocks(page)
      const third = page.locator('.intro-editor .ProseMirror > p', { hasText: 'Third paragraph.' })
      const second = page.locator('.intro-editor .ProseMirror > p', { hasText: 'Second paragraph.' })
      if (before.indexOf('p:Third paragraph.') < before.indexOf('p:Second paragraph.')) return // already moved
      const handle = await handleFor(page, third)
      const hb = await handle.boundingBox()
      const target = await second.boundingBox()
      await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2)
      await page.mouse.down()
      await page.mouse.move(hb.x + hb.width / 2 + 4, hb.y + hb.height / 2 - 4, { steps: 2 })
      await page.mouse.move(target.x + 40, target.y + target.height / 4, { steps: 12 })
      await sleep(100)
      await page.mouse.up()
      await sleep(300)
      const after = await blocks(page)
      assert.ok(
        after.indexOf('p:Third paragraph.') < after.indexOf('p:Second paragraph.'),
        `Third paragraph was not moved above Second: ${after}`,
      )
    })
    await shot(page, 'intro-after-drag')
  })

  test('click a drag handle, then Delete', async () => {
    const second = page.locator('.intro-editor .ProseMirror > p', { hasText: 'Second paragraph.' })
    await retry(3, async () => {
      const handle = await handleFor(page, second)
      await handle.click()
      await page.waitForSelector('#block-delete', { state: 'visible', timeout: 3000 })
    })
    assert.equal((await page.textContent('#block-delete')).trim(), 'Delete')
    await shot(page, 'intro-handle-menu')
    await page.click('#block-delete')
    await page.waitForFunction(() => ![...document.querySelectorAll('.intro-editor .ProseMirror p')].some((p) => p.textContent.includes('Second paragraph.')))
  })

  test('Save stores Markdown and shows the re-rendered intro; a reload shows it', async () => {
    await page.click('#save-intro')
    await page.waitForSelector('#intro-content h2')
    const html = await page.innerHTML('#intro-content')
    assert.match(html, /First paragraph\. Typed here\./)
    assert.match(html, /<h2[^>]*>Projects<\/h2>/)
    assert.doesNotMatch(html, /Second paragraph/)
    const r = await gql(page, '{ viewer { intro } }')
    const md = r.body.data.viewer.intro
    assert.match(md, /^## Projects$/m)
    assert.match(md, /First paragraph\. Typed here\./)
    assert.ok(md.indexOf('Third paragraph.') < md.indexOf('## Projects'), md)
    assert.doesNotMatch(md, /Second paragraph/)
    await page.reload()
    await page.waitForSelector('#intro-content h2')
    assert.match(await page.innerHTML('#intro-content'), /Typed here/)
    await shot(page, 'intro-saved')
  })

  test('empty paragraphs typed with Enter are not saved as <br />', async () => {
    await openEditor(page)
    const p = page.locator('.intro-editor .ProseMirror p', { hasText: 'Third paragraph.' })
    await p.click()
    await page.keyboard.press('End')
    for (let i = 0; i < 3; i++) await page.keyboard.press('Enter')
    await page.keyboard.type('After blank lines.')
    await page.click('#save-intro')
    await page.waitForSelector('#intro-content')
    const md = (await gql(page, '{ viewer { intro introHtml } }')).body.data.viewer
    assert.match(md.intro, /Third paragraph\.\n\nAfter blank lines\./, md.intro)
    assert.doesNotMatch(md.intro, /<br/i)
    assert.doesNotMatch(md.introHtml, /<br/i)
  })

  test('Cancel discards the changes', async () => {
    await openEditor(page)
    const p = page.locator('.intro-editor .ProseMirror p', { hasText: 'Third paragraph.' })
    await p.click()
    await page.keyboard.press('End')
    await page.keyboard.type(' NOT SAVED')
    await page.click('#cancel-intro')
    await page.waitForSelector('#intro-content')
    assert.doesNotMatch(await page.textContent('#intro-content'), /NOT SAVED/)
    await page.reload()
    await page.waitForSelector('#intro-content')
    assert.doesNotMatch(await page.textContent('#intro-content'), /NOT SAVED/)
  })

  test('a badge with only width keeps its aspect ratio; the social badge renders as a linked image', async () => {
    const intro = [
      'Badges:',
      '',
      '<img src="https://img.shields.io/badge/only-width-blue.svg" width="240">',
      '',
      '[![X: @weights_biases](https://img.shields.io/twitter/follow/weights_biases?style=social)](https://x.com/intent/follow?screen_name=weights_biases)',
      '',
      '[<img src="https://img.shields.io/badge/both-set-green.svg" width="80" height="20">](https://example.com)',
      '',
    ].join('\n')
    await setIntro(page, intro)
    await page.goto(`${server.url}/grace`)
    await page.waitForSelector('#intro-content img')
    await page.waitForFunction(() => [...document.querySelectorAll('#intro-content img')].every((i) => i.complete && i.naturalWidth > 0))
    const imgs = await page.$$eval('#intro-content img', (els) =>
      els.map((i) => ({
        src: i.getAttribute('src'),
        w: i.getBoundingClientRect().width,
        h: i.getBoundingClientRect().height,
        nw: i.naturalWidth,
        nh: i.naturalHeight,
        link: i.closest('a')?.getAttribute('href') ?? null,
        rel: i.closest('a')?.getAttribute('rel') ?? null,
      })),
    )
    const onlyWidth = imgs.find((i) => i.src.includes('only-width'))
    assert.ok(onlyWidth, JSON.stringify(imgs))
    assert.equal(Math.round(onlyWidth.w), 240)
    assert.ok(Math.abs(onlyWidth.h - (240 * BADGE_H) / BADGE_W) < 1.01, `height ${onlyWidth.h} keeps the ratio of ${BADGE_W}x${BADGE_H}`)
    const social = imgs.find((i) => i.src.includes('twitter/follow'))
    assert.ok(social, `social badge rendered: ${JSON.stringify(imgs)}`)
    assert.equal(social.link, 'https://x.com/intent/follow?screen_name=weights_biases')
    assert.match(social.rel ?? '', /nofollow/)
    const both = imgs.find((i) => i.src.includes('both-set'))
    assert.ok(both && Math.round(both.w) === 80 && Math.round(both.h) === 20, JSON.stringify(both))
    await shot(page, 'intro-badges')

    // the editor shows the raw <img> as an image and saves it back unchanged
    await openEditor(page)
    await page.waitForSelector('.intro-editor .intro-html-img img')
    await shot(page, 'intro-editor-badges')
    await page.click('#save-intro')
    await page.waitForSelector('#intro-content img')
    const md = (await gql(page, '{ viewer { intro } }')).body.data.viewer.intro
    assert.match(md, /<img src="https:\/\/img\.shields\.io\/badge\/only-width-blue\.svg" width="240">/)
    assert.match(md, /\[!\[X: @weights_biases\]\(https:\/\/img\.shields\.io\/twitter\/follow\/weights_biases\?style=social\)\]\(https:\/\/x\.com\/intent\/follow\?screen_name=weights_biases\)/)
  })

  test('a badge typed as Markdown becomes a linked image; a same-origin image survives Save', async () => {
    await setIntro(page, 'Typed badges:\n\n<img src="/avatars/none.png" width="32">\n')
    await page.goto(`${server.url}/grace`)
    await page.waitForSelector('#intro-content')
    assert.match(await page.innerHTML('#intro-content'), /<img src="\/avatars\/none\.png" width="32">/, 'a path on this server is kept')
    await openEditor(page)
    const p = page.locator('.intro-editor .ProseMirror p', { hasText: 'Typed badges:' })
    await p.click()
    await page.keyboard.press('End')
    await page.keyboard.press('Enter')
    await page.keyboard.type('[![Discord](https://img.shields.io/badge/discord-join-green)](https://discord.example/invite)')
    await page.waitForSelector('.intro-editor .ProseMirror a img[src*="discord-join"]')
    assert.doesNotMatch(await page.textContent('.intro-editor .ProseMirror'), /\]\(https/, 'no literal Markdown left')
    await page.click('#save-intro')
    await page.waitForSelector('#intro-content a img')
    const md = (await gql(page, '{ viewer { intro } }')).body.data.viewer.intro
    assert.match(md, /\[!\[Discord\]\(https:\/\/img\.shields\.io\/badge\/discord-join-green\)\]\(https:\/\/discord\.example\/invite\)/, md)
    assert.match(md, /<img src="\/avatars\/none\.png" width="32">/, md)
    const link = await page.getAttribute('#intro-content a:has(img[src*="discord-join"])', 'href')
    assert.equal(link, 'https://discord.example/invite')
  })

  test('XSS attempts in the intro and the bio do not execute', async () => {
    const payloads = [
      '<script>window.__xss = 1; alert(1)</script>',
      '<img src=x onerror="window.__xss = 2; alert(2)">',
      '[click me](javascript:window.__xss=3;alert(3))',
      '<iframe src="javascript:parent.__xss=4;alert(4)"></iframe>',
      '<a href="javascript:window.__xss=5">link</a> <svg onload="window.__xss=6"></svg>',
      '<details open ontoggle="window.__xss=7">x</details>',
      '<img src="https://img.shields.io/badge/safe-src-red.svg" width="60" onerror="window.__xss=8" onload="window.__xss=9">',
    ]
    await setIntro(page, payloads.join('\n\n'))
    const r = await gql(
      page,
      'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { user { bio } } }',
      { input: { bio: payloads.slice(0, 2).join(' ') } },
    )
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body))
    for (const who of [page, await browser.newPage()]) {
      await who.goto(`${server.url}/grace`)
      await who.waitForSelector('#intro-content')
      // click every link in the intro
      for (const a of await who.$$('#intro-content a')) await a.click({ force: true, noWaitAfter: true }).catch(() => {})
      await sleep(500)
      assert.equal(await who.evaluate(() => window.__xss), undefined)
      assert.deepEqual(who.dialogs, [])
      const html = await who.innerHTML('#intro-content')
      assert.doesNotMatch(html, /<script|onerror|javascript:|<iframe|onload|ontoggle/i)
      assert.match(await who.textContent('#profile-bio-text'), /<script>/) // shown as text
    }
    await shot(page, 'intro-xss')
    // the editor does not run them either
    await page.goto(`${server.url}/grace`)
    await openEditor(page)
    await sleep(500)
    assert.equal(await page.evaluate(() => window.__xss), undefined)
    // the editor shows the raw <img> with only src/alt/width/height/title
    const shown = await page.$$eval('.intro-editor .intro-html-img img', (els) => els.map((e) => e.getAttributeNames().sort().join(',')))
    assert.deepEqual(shown, ['src,width'])
    await shot(page, 'intro-editor-xss')
    assert.deepEqual(page.dialogs, [])
    await page.click('#cancel-intro')
    assert.deepEqual(page.errors, [])
    assert.deepEqual(cspViolations(page), [])
  })
})
