// Settings → Personal GitHub integration against a local GitHub stand-in (github.mjs), in
// English and Korean, by keyboard, with axe-core: Connect Github through GitHub's consent
// page and back, GitHub's errors (access_denied, bad_verification_code) as messages,
// Disconnect revoking the grant; a team admitting a GitHub organization's members, joined
// from "We found teams for you to join"; a server without a GitHub app explaining itself.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, gqlWithKey, shot, signedIn, startServer } from './helpers.mjs'
import { startGithub } from './github.mjs'

const text = async (page, sel) => (await page.textContent(sel)).replace(/\s+/g, ' ').trim()

async function connectWith(page, server, github, login) {
  github.consentAs(login)
  await page.goto(`${server.url}/settings#github`)
  await page.waitForSelector('#github-connect')
  await page.focus('#github-connect')
  await page.keyboard.press('Enter')
  await page.waitForURL((u) => u.pathname === '/settings' && u.hash === '#github')
  await page.waitForSelector('#github-outcome')
}

describe('Personal GitHub integration', () => {
  let server, github, key

  before(async () => {
    github = await startGithub()
    github.account('octo', 583231, ['acme', 'octo-labs'])
    github.account('bobgh', 7, ['acme'])
    server = await startServer({ env: github.env() })
    createUser(server, 'ada', { name: 'Ada' })
    createUser(server, 'bob', { name: 'Bob' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'seed'])
  })
  after(async () => {
    server?.stop()
    await github?.close()
  })

  test('Connect Github, GitHub errors, and Disconnect', async () => {
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await connectWith(page, server, github, 'deny')
      assert.equal(await text(page, '#github-outcome'), 'You cancelled on GitHub; nothing was connected.')
      await connectWith(page, server, github, 'stale')
      assert.equal(await text(page, '#github-outcome'), "GitHub's sign-in code was wrong or has expired. Connect again.")
      // The outcome can show before the connection status has loaded: wait for the button.
      assert.ok(await page.waitForSelector('#github-connect', { timeout: 10_000 }), 'still not connected')

      await connectWith(page, server, github, 'octo')
      assert.equal(await text(page, '#github-outcome'), 'Your GitHub account is connected.')
      assert.equal(new URL(page.url()).search, '', 'the outcome leaves the address')
      assert.equal(await text(page, '#github-login'), 'octo')
      assert.deepEqual(await page.$$eval('#github-orgs li', (li) => li.map((e) => e.textContent.trim())), ['acme', 'octo-labs'])
      assert.equal(await page.getAttribute('#github-grant', 'href'), `${github.base}/settings/connections/applications/Iv1.browserstandin`)
      assert.deepEqual(await axeViolations(page), [])
      await shot(page, 'github-connected-1280')
      await page.setViewportSize({ width: 390, height: 844 })
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), 'fits a phone')
      await page.setViewportSize({ width: 1280, height: 900 })

      await page.focus('#github-disconnect')
      await page.keyboard.press('Enter')
      await page.waitForSelector('#github-disconnect-dialog[open]')
      await page.click('#github-disconnect-confirm')
      await page.waitForSelector('#github-connect')
      assert.equal(await text(page, '#github-outcome'), 'Your GitHub account is disconnected, and this server\'s access to it is revoked.')
      assert.equal(github.tokenValid('octo'), false, 'the grant is revoked on GitHub')
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }
  })

  test('members of a GitHub organization find and join the team, in Korean', async () => {
    const made = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "acme-lab"}) { entity { name } } }')
    assert.equal(made.body.errors, undefined, JSON.stringify(made.body))
    const { browser, page } = await signedIn(server, 'ada')
    try {
      await page.goto(`${server.url}/acme-lab`)
      await page.waitForSelector('#team-github-org')
      await page.fill('#team-github-org', 'Acme')
      await page.click('#team-github-save')
      await page.waitForSelector('#team-github-saved')
      assert.equal(await page.inputValue('#team-github-org'), 'acme')
      assert.deepEqual(await axeViolations(page, '#team-github'), [])
    } finally {
      await browser.close()
    }

    const { browser: ko, page: p } = await signedIn(server, 'bob', { locale: 'ko-KR' })
    try {
      await connectWith(p, server, github, 'bobgh')
      assert.equal(await text(p, '#github-title'), '개인 GitHub 연동')
      assert.equal(await text(p, '#github-outcome'), 'GitHub 계정이 연결되었습니다.')
      assert.equal(await p.$eval('#github .muted', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      assert.deepEqual(await axeViolations(p), [])
      await shot(p, 'github-connected-ko')
      await p.waitForSelector('#joinable-teams')
      await p.click('#view-teams')
      await p.waitForSelector('#join-teams-dialog[open] [data-join-team="acme-lab"]')
      assert.match(await text(p, '[data-join-team="acme-lab"]'), /GitHub 조직 acme의 멤버는 가입할 수 있습니다/)
      await p.click('[data-join-team="acme-lab"] .join-team')
      await p.waitForSelector('[data-join-team="acme-lab"] .join-done')
      const members = await gqlWithKey(server, key, '{ entity(name: "acme-lab") { members { username role } } }')
      const bob = members.body.data.entity.members.find((m) => m.username === 'bob')
      assert.equal(bob?.role, 'member', JSON.stringify(members.body))
    } finally {
      await ko.close()
    }
  })

  test('without a GitHub app, the section says how to add one', async () => {
    const plain = await startServer()
    try {
      createUser(plain, 'cat', { name: 'Cat' })
      const { browser, page } = await signedIn(plain, 'cat')
      try {
        await page.goto(`${plain.url}/settings#github`)
        await page.waitForSelector('#github-not-configured')
        assert.match(await text(page, '#github-not-configured'), /github_client_id/)
        assert.equal(await page.$('#github-connect'), null)
      } finally {
        await browser.close()
      }
    } finally {
      plain.stop()
    }
  })
})
