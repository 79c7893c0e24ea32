// Settings → Delete account in English and Korean, by keyboard, with axe-core: held up
// while the person is the last admin of a team with other members (the team named and
// linked), then done with the password and the username typed again: signed out, told so,
// and sign-in refused.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PASSWORD, admin, axeViolations, createUser, gqlWithKey, shot, signedIn, startServer } from './helpers.mjs'

const text = async (page, sel) => (await page.textContent(sel)).replace(/\s+/g, ' ').trim()

describe('Delete account', () => {
  let server, key

  before(async () => {
    server = await startServer()
    createUser(server, 'ada', { name: 'Ada' })
    createUser(server, 'bob', { name: 'Bob' })
    createUser(server, 'cho', { name: 'Cho' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'seed'])
    for (const team of ['lab', 'solo']) {
      const made = await gqlWithKey(server, key, `mutation { createTeam(input: {teamName: "${team}"}) { entity { name } } }`)
      assert.equal(made.body.errors, undefined, JSON.stringify(made.body))
    }
    const invited = await gqlWithKey(server, key, 'mutation { createInvite(input: {entityName: "lab", username: "bob", role: "member"}) { invite { id } } }')
    assert.equal(invited.body.errors, undefined, JSON.stringify(invited.body))
    const bobKey = admin(server, ['create-key', '--username', 'bob', '--name', 'seed'])
    const accepted = await gqlWithKey(server, bobKey, `mutation { acceptInvite(input: {id: "${invited.body.data.createInvite.invite.id}"}) { entity { name } } }`)
    assert.equal(accepted.body.errors, undefined, JSON.stringify(accepted.body))
  })
  after(() => server?.stop())

  test('held up as the last admin, then deleted with the password and the username', async () => {
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await page.goto(`${server.url}/settings#delete-account`)
      await page.waitForSelector('#delete-blocked')
      assert.deepEqual(await page.$$eval('#delete-blocked a', (a) => a.map((e) => e.getAttribute('href'))), ['/lab'])
      assert.ok(await page.isDisabled('#delete-account-start'))
      assert.match(await text(page, '#delete-sole'), /solo/)
      assert.deepEqual(await axeViolations(page, '#delete-account'), [])

      const promoted = await gqlWithKey(server, key, 'mutation { updateMemberRole(input: {entityName: "lab", username: "bob", role: "admin"}) { entity { name } } }')
      assert.equal(promoted.body.errors, undefined, JSON.stringify(promoted.body))
      await page.reload()
      await page.waitForSelector('#delete-account-start:not([disabled])')
      assert.equal(await page.$('#delete-blocked'), null)
      await page.focus('#delete-account-start')
      await page.keyboard.press('Enter')
      await page.waitForSelector('#delete-account-dialog[open]')
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'delete-password', 'the first field takes focus')
      await page.keyboard.type('wrong password')
      await page.fill('#delete-username', 'Ada')
      await page.click('#delete-account-confirm')
      await page.waitForSelector('#delete-username-error')
      await page.fill('#delete-username', 'ada')
      await page.click('#delete-account-confirm')
      await page.waitForSelector('#delete-password-error')
      assert.deepEqual(await axeViolations(page, '#delete-account-dialog'), [])
      await shot(page, 'delete-account-dialog')
      await page.fill('#delete-password', PASSWORD)
      await page.keyboard.press('Enter')
      await page.waitForURL(`${server.url}/login?deleted=1`)
      await page.waitForSelector('#login-account-deleted')
      await page.fill('#login-name', 'ada')
      await page.fill('#login-password', PASSWORD)
      await page.click('#login-submit')
      await page.waitForSelector('#login [role="alert"]')
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }
    const lab = await gqlWithKey(server, key, '{ viewer { username } }')
    assert.equal(lab.status, 401, 'her key is revoked')
  })

  test('in Korean', async () => {
    const { browser, page } = await signedIn(server, 'cho', { locale: 'ko-KR' })
    try {
      await page.goto(`${server.url}/settings#delete-account`)
      await page.waitForSelector('#delete-account-start:not([disabled])')
      assert.equal(await text(page, '#delete-account-title'), '계정 삭제')
      assert.equal(await page.$eval('#delete-account .muted', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      await page.click('#delete-account-start')
      await page.waitForSelector('#delete-account-dialog[open]')
      await page.fill('#delete-password', PASSWORD)
      await page.fill('#delete-username', 'cho')
      assert.deepEqual(await axeViolations(page), [])
      await shot(page, 'delete-account-ko')
      await page.click('#delete-account-confirm')
      await page.waitForSelector('#login-account-deleted')
      assert.match(await text(page, '#login-account-deleted'), /계정이 삭제되었고/)
    } finally {
      await browser.close()
    }
  })
})
