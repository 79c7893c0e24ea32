// The Profile section: each field, its validation (client and server, translated and shown
// under the field), and the profile image (PNG, JPEG with EXIF GPS, a fake PNG, an oversized file, remove).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bigPng, hasExifOrGps, isPng, png, withExifGps } from './images.mjs'
import { createUser, cspViolations, shot, signedIn, startServer } from './helpers.mjs'

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

const UPDATE = 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { user { name institution bio location website } } }'

describe('profile section', () => {
  let server, browser, page

  before(async () => {
    server = await startServer()
    createUser(server, 'linus', { name: 'Linus' })
    ;({ browser, page } = await signedIn(server, 'linus'))
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
  })

  test('labels of the Profile section; the form is filled right after sign-in', async () => {
    assert.equal(await page.inputValue('#profile-name'), 'Linus')
    assert.equal((await page.textContent('#profile-title')).trim(), 'Profile')
    for (const [id, label] of [
      ['profile-name', 'Account name'],
      ['profile-institution', 'Institution'],
      ['profile-bio', 'Bio'],
      ['profile-location', 'Location'],
      ['profile-website', 'Website'],
    ]) {
      assert.equal((await page.textContent(`label[for="${id}"]`)).trim(), label)
    }
    assert.equal((await page.textContent('#profile-save')).trim(), 'Save')
    assert.equal((await page.textContent('#edit-intro-link')).trim(), 'Edit your intro')
    await shot(page, 'settings-profile')
  })

  test('every field is saved and shown on the public profile', async () => {
    await page.fill('#profile-name', 'Linus Torvalds')
    await page.fill('#profile-institution', 'Linux Foundation')
    await page.fill('#profile-bio', 'Kernel hacker.\nSecond line.')
    await page.fill('#profile-location', 'Portland, OR')
    await page.fill('#profile-website', 'https://kernel.org/')
    await page.click('#profile-save')
    await page.waitForSelector('#profile-saved')
    await page.reload()
    await page.waitForSelector('#profile-name')
    assert.equal(await page.inputValue('#profile-name'), 'Linus Torvalds')
    assert.equal(await page.inputValue('#profile-institution'), 'Linux Foundation')
    assert.equal(await page.inputValue('#profile-bio'), 'Kernel hacker.\nSecond line.')
    assert.equal(await page.inputValue('#profile-location'), 'Portland, OR')
    assert.equal(await page.inputValue('#profile-website'), 'https://kernel.org/')

    await page.goto(`${server.url}/linus`)
    await page.waitForSelector('#public-profile')
    assert.equal((await page.textContent('#profile-display-name')).trim(), 'Linus Torvalds')
    assert.equal((await page.textContent('#profile-institution')).trim(), 'Linux Foundation')
    assert.equal((await page.textContent('#profile-location')).trim(), 'Portland, OR')
    assert.match(await page.textContent('#profile-bio-text'), /Kernel hacker\.\nSecond line\./)
    const a = page.locator('#profile-website a')
    assert.equal(await a.getAttribute('href'), 'https://kernel.org/')
    assert.equal(await a.getAttribute('rel'), 'nofollow noopener noreferrer ugc')
    await shot(page, 'public-profile')

    // clearing an optional field works
    await page.goto(`${server.url}/settings#profile`)
    await page.fill('#profile-location', '')
    await page.click('#profile-save')
    await page.waitForSelector('#profile-saved')
    await page.reload()
    await page.waitForSelector('#profile-name')
    assert.equal(await page.inputValue('#profile-location'), '')
  })

  test('website: only http and https (checked in the page and by the server)', async () => {
    for (const bad of ['javascript:alert(1)', 'ftp://x', 'example.com']) {
      await page.fill('#profile-website', bad)
      await page.click('#profile-save')
      await page.waitForSelector('#profile-website-error')
      assert.match(await page.textContent('#profile-website-error'), /http:\/\/ or https:\/\//)
    }
    await shot(page, 'profile-website-invalid')
    for (const bad of ['javascript:alert(1)', 'ftp://x', 'data:text/html,hi']) {
      const r = await gql(page, UPDATE, { input: { website: bad } })
      const e = r.body.errors?.[0]
      assert.equal(e?.extensions?.code, 'website_invalid', JSON.stringify(r.body))
      assert.equal(e?.extensions?.field, 'website')
    }
    await page.fill('#profile-website', 'http://example.com/x')
    await page.click('#profile-save')
    await page.waitForSelector('#profile-saved')
    assert.equal(await page.locator('#profile-website-error').count(), 0)
  })

  test('a 1001-character bio is refused with a translated message under the field', async () => {
    await page.fill('#profile-bio', 'b'.repeat(1001))
    await page.click('#profile-save')
    await page.waitForSelector('#profile-bio-error')
    assert.equal((await page.textContent('#profile-bio-error')).trim(), 'The bio is too long (at most 1,000 characters) or contains characters that are not allowed.')
    await shot(page, 'profile-bio-too-long')
    await page.fill('#profile-bio', 'b'.repeat(1000))
    await page.click('#profile-save')
    await page.waitForSelector('#profile-saved')
  })

  test('account name, institution and location too long are refused under their fields', async () => {
    for (const [field, code] of [
      ['name', 'name_invalid'],
      ['institution', 'institution_invalid'],
      ['location', 'location_invalid'],
    ]) {
      await page.reload()
      await page.waitForSelector('#profile-name')
      await page.fill(`#profile-${field}`, 'x'.repeat(2000))
      await page.click('#profile-save')
      await page.waitForSelector(`#profile-${field}-error`)
      const r = await gql(page, UPDATE, { input: { [field]: 'x'.repeat(2000) } })
      assert.equal(r.body.errors?.[0]?.extensions?.code, code, JSON.stringify(r.body))
    }
    await page.reload()
  })

  async function upload(name, mimeType, buffer) {
    await page.goto(`${server.url}/settings#profile`)
    await page.waitForSelector('#avatar-upload')
    const chooser = page.waitForEvent('filechooser')
    await page.click('#avatar-upload')
    await (await chooser).setFiles({ name, mimeType, buffer })
    await page.waitForSelector('#avatar-message, #avatar-error')
  }

  test('a valid PNG becomes the profile image and is served safely', async () => {
    await upload('me.png', 'image/png', png(300, 200))
    assert.equal(await page.locator('#avatar-error').count(), 0, await page.locator('#avatar-error').textContent().catch(() => ''))
    const src = await page.getAttribute('#profile-image-current img', 'src')
    assert.match(src, /^\/avatars\//)
    const res = await page.request.get(`${server.url}${src}`)
    assert.equal(res.status(), 200)
    assert.equal(res.headers()['content-type'], 'image/png')
    assert.equal(res.headers()['x-content-type-options'], 'nosniff')
    const body = await res.body()
    assert.ok(isPng(body))
    // the top bar's user icon shows it too
    assert.equal(await page.getAttribute('#user-menu-button img', 'src'), src)
    await shot(page, 'profile-image-png')
  })

  test('a JPEG with EXIF GPS comes back re-encoded without it', async () => {
    const b64 = await page.evaluate(() => {
      const c = document.createElement('canvas')
      c.width = 240
      c.height = 180
      const g = c.getContext('2d')
      const grad = g.createLinearGradient(0, 0, 240, 180)
      grad.addColorStop(0, '#e66465')
      grad.addColorStop(1, '#9198e5')
      g.fillStyle = grad
      g.fillRect(0, 0, 240, 180)
      return c.toDataURL('image/jpeg', 0.9).split(',')[1]
    })
    const jpeg = withExifGps(Buffer.from(b64, 'base64'))
    assert.ok(hasExifOrGps(jpeg), 'the test file carries EXIF GPS')
    const before = await page.getAttribute('#profile-image-current img', 'src')
    await upload('gps.jpg', 'image/jpeg', jpeg)
    assert.equal(await page.locator('#avatar-error').count(), 0)
    const src = await page.getAttribute('#profile-image-current img', 'src')
    assert.notEqual(src, before)
    const body = await (await page.request.get(`${server.url}${src}`)).body()
    assert.ok(isPng(body), 'served as PNG')
    assert.ok(!hasExifOrGps(body), 'no EXIF or GPS in the served image')
    // the old image is gone
    const old = await page.request.get(`${server.url}${before}`)
    assert.equal(old.status(), 404)
  })

  test('a non-image renamed to .png is refused with the translated message', async () => {
    await upload('notes.png', 'image/png', Buffer.from('this is plain text, not a PNG at all\n'.repeat(20)))
    assert.equal((await page.textContent('#avatar-error')).trim(), 'This file type is not supported. Choose a PNG, JPEG, WebP or GIF image.')
    await shot(page, 'profile-image-not-an-image')
  })

  test('an oversized file is refused (in the page, and by the server)', async () => {
    const big = bigPng(5.5 * 1024 * 1024)
    assert.ok(big.length > 5 * 1024 * 1024)
    await upload('big.png', 'image/png', big)
    assert.equal((await page.textContent('#avatar-error')).trim(), 'The image is too large. Choose a file of at most 5 MiB.')
    await shot(page, 'profile-image-too-large')
    // the server refuses it as well when the page's check is bypassed
    const r = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const fd = new FormData()
      fd.append('file', new Blob([bytes], { type: 'image/png' }), 'big.png')
      const res = await fetch('/api/v1/avatar', { method: 'POST', body: fd })
      return { status: res.status, body: await res.json().catch(() => null) }
    }, big.toString('base64'))
    assert.equal(r.status, 413)
    assert.equal(r.body?.errors?.[0]?.extensions?.code, 'image_too_large')
  })

  test('remove image', async () => {
    await page.goto(`${server.url}/settings#profile`)
    await page.waitForSelector('#avatar-remove')
    const src = await page.getAttribute('#profile-image-current img', 'src')
    await page.click('#avatar-remove')
    await page.waitForSelector('#avatar-message')
    assert.equal(await page.locator('#profile-image-current img').count(), 0)
    assert.equal(await page.locator('#avatar-remove').count(), 0)
    assert.equal((await page.request.get(`${server.url}${src}`)).status(), 404)
    await shot(page, 'profile-image-removed')
    assert.deepEqual(page.errors, [])
    assert.deepEqual(cspViolations(page), [])
  })

  test('when the server fails, Profile, Teams and API keys say so and Try again recovers', async () => {
    let failing = true
    // every GraphQL call fails like a server in trouble until the test lets them through
    await page.route('**/graphql', (route) =>
      failing ? route.fulfill({ status: 503, contentType: 'application/json', body: '{"errors":[{"message":"busy","extensions":{"code":"internal_error"}}]}' }) : route.fallback(),
    )
    try {
      await page.goto(`${server.url}/settings`)
      await page.reload()
      await page.waitForSelector('#profile-load-error')
      await page.waitForSelector('#teams-load-error')
      await page.waitForSelector('#api-keys-load-error')
      assert.equal(await page.isDisabled('#profile-save'), true, 'an empty form cannot overwrite the profile')
      failing = false
      for (const retry of ['#profile-retry', '#teams-retry', '#api-keys-retry']) await page.click(retry)
      await page.waitForSelector('#profile-load-error', { state: 'detached' })
      await page.waitForSelector('#teams-table, #teams-empty')
      await page.waitForSelector('#api-keys-table')
      assert.notEqual(await page.inputValue('#profile-name'), '')
    } finally {
      await page.unroute('**/graphql')
    }
  })
})
