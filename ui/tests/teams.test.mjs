// Teams in the browser: the Settings Teams and Default team sections, the team page (members,
// roles, invitations, join requests, settings, service accounts, delete), invitations answered
// in Settings and through the mailed link, the domain join flow, email verification by link,
// and the Hide teams in public profile toggle — against the real binary and a loopback SMTP sink.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  admin,
  createUser,
  cspViolations,
  gqlWithKey,
  launch,
  shot,
  signIn,
  startServer,
  verifyEmail,
} from './helpers.mjs'
import { linkToken, startSmtpSink } from './smtp.mjs'

const EN = {
  invite_not_found: 'This invitation was not found. It may have been cancelled or already answered.',
  last_team_admin: 'A team needs at least one admin. Make another member an admin first.',
  not_team_member: 'You are not a member of this team.',
  email_token_invalid: 'This verification link is not valid, was already used, or has expired. Ask for a new one in Settings → Teams.',
  warning: 'Copy this API key now and store it securely. It will not be shown again.',
}

const text = async (page, sel) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim()

describe('Teams', () => {
  let sink, server
  let ada, adaPage // the team creator, signed in throughout
  let other, page // everyone else, one at a time

  /** Sign the second browser in as `username` (fresh cookies, fresh page state). */
  async function as(username) {
    await other.context.clearCookies()
    await signIn(page, server, username)
  }

  async function openSettingsTeams(p) {
    // a goto that changes only the fragment would not reload the page (nor its data)
    const onSettings = new URL(p.url()).pathname === '/settings'
    await p.goto(`${server.url}/settings#teams`)
    if (onSettings) await p.reload()
    await p.waitForSelector('#teams-table, #teams-load-error')
    if (await p.locator('#teams-load-error').count()) assert.fail(`Teams section: ${await p.textContent('#teams-load-error')}`)
  }

  async function createTeamInSettings(p, name, description = '') {
    await openSettingsTeams(p)
    await p.fill('#team-name', name)
    await p.fill('#team-description', description)
    await p.click('#create-team-submit')
    await p.waitForSelector(`#teams-table tr[data-team="${name}"]`)
  }

  async function openTeam(p, name) {
    await p.goto(`${server.url}/${name}`)
    await p.waitForSelector('#team-page, #team-not-member, #team-load-error, #public-profile, #user-not-found')
  }

  before(async () => {
    sink = await startSmtpSink()
    server = await startServer({ env: sink.env })
    for (const [u, name] of [
      ['ada', 'Ada Lovelace'],
      ['bob', 'Bob Builder'],
      ['carol', 'Carol Shaw'],
      ['dave', 'Dave Decline'],
      ['eve', 'Eve Outsider'],
      ['frank', 'Frank Joiner'],
      ['grace', 'Grace Hopper'],
    ])
      createUser(server, u, { name })
    ada = await launch()
    await ada.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    adaPage = await ada.newPage()
    await signIn(adaPage, server, 'ada')
    other = await launch()
    page = await other.newPage()
  })
  after(async () => {
    await ada?.close()
    await other?.close()
    await server?.stop()
    await sink?.close()
  })

  test('Settings: the Teams section with no team yet, and no Default team section', async () => {
    await openSettingsTeams(adaPage)
    assert.equal(await text(adaPage, '#teams-title'), 'Teams')
    assert.equal(await text(adaPage, '#nav-teams'), 'Teams')
    await adaPage.waitForSelector('#teams-empty')
    assert.equal(await adaPage.locator('#default-team').count(), 0)
    assert.equal(await adaPage.locator('#nav-default-team').count(), 0)
    assert.equal(await text(adaPage, 'label[for="hide-teams"]'), 'Hide teams in public profile')
    assert.equal(await adaPage.isChecked('#hide-teams'), false)
    assert.match(await text(adaPage, '#manage-teams-hint'), /^Manage teams/)
    // not verified yet: the line explains why and offers the button
    assert.match(await text(adaPage, '#email-unverified'), /ada@example\.com.*email domain.*verified/)
    assert.equal(await text(adaPage, '#verify-email'), 'Verify email')
    assert.equal(await adaPage.locator('#joinable-teams').count(), 0)
    await shot(adaPage, 'teams-settings-empty')
  })

  test('create a team in Settings: bad, reserved and taken names are refused; the team is listed with the Admin role', async () => {
    await openSettingsTeams(adaPage)
    await adaPage.fill('#team-name', 'bad name')
    await adaPage.click('#create-team-submit')
    await adaPage.waitForSelector('#team-name-error')
    assert.match(await text(adaPage, '#team-name-error'), /only letters, digits/)

    await adaPage.fill('#team-name', 'settings')
    await adaPage.click('#create-team-submit')
    await adaPage.waitForFunction(() => /reserved/.test(document.querySelector('#team-name-error')?.textContent ?? ''))

    await adaPage.fill('#team-name', 'bob')
    await adaPage.click('#create-team-submit')
    await adaPage.waitForFunction(() => /already taken/.test(document.querySelector('#team-name-error')?.textContent ?? ''))
    await shot(adaPage, 'teams-create-validation')

    await adaPage.fill('#team-name', 'acme')
    await adaPage.fill('#team-description', 'Rockets and anvils')
    await adaPage.click('#create-team-submit')
    await adaPage.waitForSelector('#team-created')
    assert.match(await text(adaPage, '#team-created'), /Team acme created/)
    const row = adaPage.locator('#teams-table tr[data-team="acme"]')
    await row.waitFor()
    assert.equal(await text(adaPage, '#teams-table tr[data-team="acme"] .team-role'), 'Admin')
    assert.equal(await row.locator('a').getAttribute('href'), '/acme')
    assert.equal(await adaPage.inputValue('#team-name'), '', 'the form is cleared')

    // one team: it is the default, and the Default team section does not appear (the seed)
    assert.equal(await adaPage.locator('#default-team').count(), 0)
    assert.equal(await adaPage.locator('#nav-default-team').count(), 0)
    await shot(adaPage, 'teams-created')
  })

  test('Default team: switching it changes viewer.entity; /settings#default-team opens the section', async () => {
    const key = admin(server, ['create-key', '--username', 'ada', '--name', 'default-team-test'])
    const q = 'query { viewer { username entity defaultEntity { name } projectEntities { name } } }'
    let r = await gqlWithKey(server, key, q)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.data.viewer.entity, 'acme', 'the only team is where runs go')
    assert.equal(r.body.data.viewer.defaultEntity, null)
    assert.deepEqual(r.body.data.viewer.projectEntities.map((e) => e.name), ['ada', 'acme'])
    // a second team: now there is a choice to make, and no choice means the personal entity
    const made = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "acme-two"}) { entity { name } } }')
    assert.equal(made.status, 200, JSON.stringify(made.body))
    r = await gqlWithKey(server, key, q)
    assert.equal(r.body.data.viewer.entity, 'ada')

    await adaPage.goto(`${server.url}/settings#default-team`)
    await adaPage.reload() // the team was made outside this page
    await adaPage.waitForSelector('#default-team-select')
    assert.equal(await text(adaPage, '#default-team-title'), 'Default team')
    assert.equal(await text(adaPage, 'label[for="default-team-select"]'), 'Default location to create new projects in')
    const options = (await adaPage.locator('#default-team-select option').allTextContents()).map((s) => s.trim())
    assert.deepEqual(options, ['ada (personal)', 'acme', 'acme-two'])
    assert.equal(await adaPage.inputValue('#default-team-select'), 'ada')
    assert.match(await text(adaPage, '#default-team-env'), /WANDB_ENTITY environment variable; it overrides this setting/)
    assert.equal(await text(adaPage, '#nav-default-team'), 'Default team')
    await adaPage.waitForFunction(() => {
      const r = document.getElementById('default-team').getBoundingClientRect()
      return r.top >= -5 && r.top < window.innerHeight / 2
    })
    await adaPage.selectOption('#default-team-select', 'acme')
    await adaPage.waitForSelector('#default-team-saved')
    assert.match(await text(adaPage, '#default-team-saved'), /created in acme/)
    await shot(adaPage, 'teams-default-team')
    r = await gqlWithKey(server, key, q)
    assert.equal(r.body.data.viewer.entity, 'acme')
    assert.equal(r.body.data.viewer.defaultEntity.name, 'acme')

    await adaPage.reload()
    await adaPage.waitForSelector('#default-team-select')
    assert.equal(await adaPage.inputValue('#default-team-select'), 'acme', 'the choice is kept')

    await adaPage.selectOption('#default-team-select', 'ada')
    await adaPage.waitForSelector('#default-team-saved')
    r = await gqlWithKey(server, key, q)
    assert.equal(r.body.data.viewer.entity, 'ada')
    assert.equal(r.body.data.viewer.defaultEntity, null)
    const gone = await gqlWithKey(server, key, 'mutation { deleteTeam(input: {entityName: "acme-two"}) { success } }')
    assert.equal(gone.status, 200, JSON.stringify(gone.body))
  })

  test('the team page: a name in Settings leads to it; admins see members, invite form, service accounts, settings and delete', async () => {
    await openSettingsTeams(adaPage)
    await adaPage.click('#teams-table tr[data-team="acme"] a')
    await adaPage.waitForURL(`${server.url}/acme`)
    await adaPage.waitForSelector('#team-page')
    assert.equal(await text(adaPage, '#team-name-title'), 'acme')
    assert.equal(await text(adaPage, '#team-description-text'), 'Rockets and anvils')
    assert.match(await text(adaPage, '#team-summary'), /1 member · your role: Admin/)
    assert.equal(await adaPage.title(), 'acme · Fulcrum')
    const heads = (await adaPage.locator('#members-table thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads.slice(0, 3), ['Username', 'Name', 'Role'])
    const me = adaPage.locator('#members-table tr[data-member="ada"]')
    assert.equal((await me.locator('.member-name').textContent()).trim(), 'Ada Lovelace')
    assert.equal(await me.locator('select.role-select').inputValue(), 'admin')
    assert.equal(await me.locator('.remove-member').count(), 0, 'no Remove on oneself (Leave team is for that)')
    for (const id of ['#team-invite', '#service-accounts', '#team-settings', '#team-delete', '#leave-team']) {
      assert.equal(await adaPage.locator(id).count(), 1, id)
    }
    await adaPage.waitForSelector('#pending-invites-empty')
    await shot(adaPage, 'team-page-admin')
  })

  test('invite by username; a duplicate invitation and an unknown person are refused with translated messages', async () => {
    await adaPage.fill('#invite-who', 'bob')
    await adaPage.selectOption('#invite-role', 'member')
    await adaPage.click('#invite-submit')
    await adaPage.waitForSelector('#invite-message')
    assert.equal(await text(adaPage, '#invite-message'), 'Invitation sent to bob (Member).')
    const row = adaPage.locator('#pending-invites-table tr[data-invitee="bob"]')
    await row.waitFor()
    assert.match((await row.textContent()).replace(/\s+/g, ' '), /bob\s*Member\s*ada/)

    await adaPage.fill('#invite-who', 'bob')
    await adaPage.click('#invite-submit')
    await adaPage.waitForSelector('#invite-error')
    assert.equal(await text(adaPage, '#invite-error'), 'This person already has a pending invitation to the team.')

    await adaPage.fill('#invite-who', 'nobody-here')
    await adaPage.click('#invite-submit')
    await adaPage.waitForFunction(() => document.querySelector('#invite-error')?.textContent.trim() === 'User not found.')
    await adaPage.fill('#invite-who', '')
    await adaPage.click('#invite-submit')
    await adaPage.waitForFunction(() => /Enter a username or an email/.test(document.querySelector('#invite-error')?.textContent ?? ''))
    await shot(adaPage, 'team-invite-errors')

    // dave is invited as a viewer (he declines later)
    await adaPage.fill('#invite-who', 'dave')
    await adaPage.selectOption('#invite-role', 'viewer')
    await adaPage.click('#invite-submit')
    await adaPage.waitForSelector('#pending-invites-table tr[data-invitee="dave"]')
    await shot(adaPage, 'team-pending-invites')
  })

  test('the invited person sees the invitation in Settings → Teams and accepts it', async () => {
    await as('bob')
    await openSettingsTeams(page)
    const inv = page.locator('#my-invites li[data-invite-team="acme"]')
    await inv.waitFor()
    const line = (await inv.textContent()).replace(/\s+/g, ' ')
    assert.match(line, /acme/)
    assert.match(line, /role: Member/)
    assert.match(line, /invited by ada/)
    assert.equal((await inv.locator('.accept-invite').textContent()).trim(), 'Accept')
    assert.equal((await inv.locator('.decline-invite').textContent()).trim(), 'Decline')
    await shot(page, 'teams-invitation-in-settings')
    await inv.locator('.accept-invite').click()
    await page.waitForSelector('#my-invites-message')
    assert.equal(await text(page, '#my-invites-message'), 'You joined acme.')
    await page.waitForSelector('#teams-table tr[data-team="acme"]')
    assert.equal(await text(page, '#teams-table tr[data-team="acme"] .team-role'), 'Member')
    assert.equal(await page.locator('#my-invites').count(), 0)
    assert.equal(await page.locator('#default-team').count(), 0, 'acme is bob\'s only team: his default')
    await shot(page, 'teams-invitation-accepted')

    // a member's view of the team page: no admin controls
    await page.click('#teams-table tr[data-team="acme"] a')
    await page.waitForSelector('#team-page')
    assert.match(await text(page, '#team-summary'), /2 members · your role: Member/)
    for (const id of ['#team-invite', '#service-accounts', '#team-settings', '#team-delete']) {
      assert.equal(await page.locator(id).count(), 0, id)
    }
    assert.equal(await page.locator('#members-table select').count(), 0)
    assert.equal(await page.locator('.remove-member').count(), 0)
    assert.equal(await page.locator('#leave-team').count(), 1)
    await shot(page, 'team-page-member')

    await adaPage.reload()
    await adaPage.waitForSelector('#members-table tr[data-member="bob"]')
    assert.equal(await adaPage.locator('#pending-invites-table tr[data-invitee="bob"]').count(), 0)
  })

  test('an invitation can be declined', async () => {
    await as('dave')
    await openSettingsTeams(page)
    const inv = page.locator('#my-invites li[data-invite-team="acme"]')
    await inv.waitFor()
    assert.match(await inv.textContent(), /role: Viewer/)
    await inv.locator('.decline-invite').click()
    await page.waitForSelector('#my-invites-message')
    assert.equal(await text(page, '#my-invites-message'), 'You declined the invitation to acme.')
    await page.waitForSelector('#teams-empty')
    assert.equal(await page.locator('#default-team').count(), 0)
    await adaPage.reload()
    await adaPage.waitForSelector('#members-table')
    assert.equal(await adaPage.locator('#pending-invites-table tr[data-invitee="dave"]').count(), 0)
    assert.equal(await adaPage.locator('#members-table tr[data-member="dave"]').count(), 0)
  })

  test('the mailed invitation link: signed out, sign in on the page, then Accept leads to the team page', async () => {
    await adaPage.fill('#invite-who', 'carol@example.com')
    await adaPage.selectOption('#invite-role', 'member')
    await adaPage.click('#invite-submit')
    await adaPage.waitForSelector('#invite-message')
    const mail = await sink.waitFor('carol@example.com')
    assert.match(mail.text, /acme/, 'the mail names the team')
    const token = linkToken(mail, '/invites')
    assert.ok(token, `an /invites#token= link in the mail:\n${mail.text}`)
    assert.ok(mail.parts.some((p) => p.type === 'text/html') && mail.parts.some((p) => p.type === 'text/plain'), 'HTML and text parts')

    await other.context.clearCookies()
    await page.goto(`${server.url}/invites#token=${encodeURIComponent(token)}`)
    await page.waitForSelector('#invite-sign-in')
    assert.match(await text(page, '#invite-sign-in'), /Sign in to see and answer this invitation/)
    await shot(page, 'invite-link-signed-out')
    await page.fill('#login-name', 'carol')
    await page.fill('#login-password', 'correct horse battery')
    await page.click('#login-submit')
    await page.waitForSelector('#accept-invite')
    assert.equal(new URL(page.url()).pathname, '/invites', 'back on the invitation after signing in')
    const summary = await text(page, '#invite-summary')
    // the team and role, when the server can describe an invitation by its token
    if (!/^You have been invited to join a team\.$/.test(summary)) {
      assert.equal(summary, 'You have been invited to join the team acme as Member.')
    }
    await shot(page, 'invite-link-signed-in')
    const stored = await page.evaluate((tok) => JSON.stringify({ ...localStorage }).includes(tok) || JSON.stringify({ ...sessionStorage }).includes(tok), token)
    assert.equal(stored, false, 'the token is never stored')
    await page.click('#accept-invite')
    await page.waitForURL(`${server.url}/acme`)
    await page.waitForSelector('#team-page')
    assert.ok(!page.url().includes(token))
    assert.match(await text(page, '#team-summary'), /your role: Member/)
    await shot(page, 'invite-link-accepted')
  })

  test('invitation and verification links with a bogus or missing token show translated errors', async () => {
    await page.goto(`${server.url}/invites#token=not-a-real-token`)
    await page.waitForSelector('#invite-error, #accept-invite')
    if (await page.locator('#accept-invite').count()) await page.click('#accept-invite')
    await page.waitForSelector('#invite-error, #invite-action-error')
    assert.equal(await text(page, '#invite-error, #invite-action-error'), EN.invite_not_found)
    await shot(page, 'invite-link-bogus')

    await page.goto(`${server.url}/invites`)
    await page.waitForSelector('#invite-missing-token')

    await page.goto(`${server.url}/verify-email#token=not-a-real-token`)
    await page.waitForSelector('#verify-email-error')
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar')
    assert.equal(await text(page, '#verify-email-error'), EN.email_token_invalid)
    await shot(page, 'verify-email-bogus')
  })

  test('a team admin changes a member’s role and removes a member (with confirmation)', async () => {
    await openTeam(adaPage, 'acme')
    const bob = adaPage.locator('#members-table tr[data-member="bob"]')
    await bob.locator('select.role-select').selectOption('viewer')
    await adaPage.waitForSelector('#members-message')
    assert.equal(await text(adaPage, '#members-message'), 'bob is now Viewer.')
    await adaPage.reload()
    await adaPage.waitForSelector('#members-table tr[data-member="bob"]')
    assert.equal(await bob.locator('select.role-select').inputValue(), 'viewer')

    const carol = adaPage.locator('#members-table tr[data-member="carol"]')
    await carol.locator('.remove-member').click()
    await adaPage.waitForSelector('#remove-member-dialog[open]')
    assert.equal(await text(adaPage, '#remove-member-text'), 'Remove carol from the team acme?')
    await shot(adaPage, 'team-remove-member-confirm')
    await adaPage.click('#cancel-remove-member')
    await adaPage.waitForSelector('#remove-member-dialog:not([open])', { state: 'attached' })
    assert.equal(await carol.count(), 1, 'Cancel keeps the member')
    await carol.locator('.remove-member').click()
    await adaPage.waitForSelector('#remove-member-dialog[open]')
    await adaPage.click('#confirm-remove-member')
    await adaPage.waitForSelector('#members-message')
    assert.equal(await text(adaPage, '#members-message'), 'carol was removed from the team.')
    await adaPage.waitForFunction(() => !document.querySelector('#members-table tr[data-member="carol"]'))
    await adaPage.reload()
    await adaPage.waitForSelector('#members-table tr[data-member="ada"]')
    assert.equal(await carol.count(), 0)
    await shot(adaPage, 'team-member-removed')
  })

  test('the last admin can neither leave nor step down (translated error)', async () => {
    await adaPage.click('#leave-team')
    await adaPage.waitForSelector('#leave-team-dialog[open]')
    assert.match(await text(adaPage, '#leave-team-text'), /Leave the team acme\?/)
    await adaPage.click('#confirm-leave-team')
    await adaPage.waitForSelector('#leave-team-error')
    assert.equal(await text(adaPage, '#leave-team-error'), EN.last_team_admin)
    await shot(adaPage, 'team-last-admin-leave')
    await adaPage.click('#cancel-leave-team')
    assert.equal(new URL(adaPage.url()).pathname, '/acme')

    const me = adaPage.locator('#members-table tr[data-member="ada"] select.role-select')
    await me.selectOption('member')
    await adaPage.waitForSelector('#members-error')
    assert.equal(await text(adaPage, '#members-error'), EN.last_team_admin)
    assert.equal(await me.inputValue(), 'admin', 'the dropdown goes back')
  })

  test('someone outside the team sees a clear “not a member” message', async () => {
    await as('eve')
    await openTeam(page, 'acme')
    await page.waitForSelector('#team-not-member')
    assert.match(await text(page, '#team-not-member'), new RegExp(EN.not_team_member))
    assert.equal(await page.locator('#members-table').count(), 0)
    await shot(page, 'team-not-member')
    // a person's name still opens their profile
    await openTeam(page, 'bob')
    await page.waitForSelector('#public-profile')
    // and an unknown name says so
    await openTeam(page, 'no-such-name')
    await page.waitForSelector('#user-not-found')
  })

  test('join flow: a DOMAIN_DIRECT team for example.com; a verified person sees “We found teams for you to join” → View teams → Join', async () => {
    await createTeamInSettings(adaPage, 'domainco', 'Everyone at example.com')
    await openTeam(adaPage, 'domainco')
    await adaPage.check('#join-policy input[value="DOMAIN_DIRECT"]')
    await adaPage.fill('#team-email-domain', '')
    await adaPage.click('#team-settings-save')
    await adaPage.waitForSelector('#team-email-domain-error') // a domain policy needs a domain
    await adaPage.fill('#team-email-domain', 'example.com')
    await adaPage.click('#team-settings-save')
    await adaPage.waitForSelector('#team-settings-saved')
    await adaPage.reload()
    await adaPage.waitForSelector('#team-settings-form')
    assert.equal(await adaPage.isChecked('#join-policy input[value="DOMAIN_DIRECT"]'), true)
    assert.equal(await adaPage.inputValue('#team-email-domain'), 'example.com')
    await shot(adaPage, 'team-settings-domain-direct')

    // not verified: nothing to join, and the line says why
    await as('frank')
    await openSettingsTeams(page)
    assert.equal(await page.locator('#joinable-teams').count(), 0)
    await page.waitForSelector('#email-unverified')

    verifyEmail(server, 'frank')
    await openSettingsTeams(page)
    await page.waitForSelector('#joinable-teams')
    assert.equal(await page.locator('#email-unverified').count(), 0)
    assert.equal(await text(page, '#joinable-teams span'), 'We found teams for you to join')
    assert.equal(await text(page, '#view-teams'), 'View teams')
    await shot(page, 'teams-joinable')
    await page.click('#view-teams')
    await page.waitForSelector('#join-teams-dialog[open]')
    const item = page.locator('#join-teams-dialog li[data-join-team="domainco"]')
    assert.equal((await item.locator('.join-team').textContent()).trim(), 'Join')
    assert.match(await item.textContent(), /@example\.com/)
    assert.equal(await page.locator('#join-teams-dialog li[data-join-team="acme"]').count(), 0, 'invite-only teams are not offered')
    await shot(page, 'teams-join-dialog')
    await item.locator('.join-team').click()
    await item.locator('.join-done').waitFor()
    assert.equal((await item.locator('.join-done').textContent()).trim(), 'Joined')
    await page.click('#close-join-dialog')
    await page.waitForSelector('#teams-table tr[data-team="domainco"]')
    assert.equal(await text(page, '#teams-table tr[data-team="domainco"] .team-role'), 'Member')
    assert.equal(await page.locator('#joinable-teams').count(), 0)
    await shot(page, 'teams-joined')
  })

  test('join by request: DOMAIN_REQUEST → Request to join → a team admin approves', async () => {
    await createTeamInSettings(adaPage, 'reqco')
    await openTeam(adaPage, 'reqco')
    await adaPage.check('#join-policy input[value="DOMAIN_REQUEST"]')
    await adaPage.fill('#team-email-domain', 'example.com')
    await adaPage.click('#team-settings-save')
    await adaPage.waitForSelector('#team-settings-saved')

    await openSettingsTeams(page) // still frank
    await page.click('#view-teams')
    const item = page.locator('#join-teams-dialog li[data-join-team="reqco"]')
    await item.waitFor()
    assert.equal((await item.locator('.join-team').textContent()).trim(), 'Request to join')
    await item.locator('.join-team').click()
    await item.locator('.join-done').waitFor()
    assert.equal((await item.locator('.join-done').textContent()).trim(), 'Request sent')
    await shot(page, 'teams-join-requested')
    await page.click('#close-join-dialog')
    assert.equal(await page.locator('#teams-table tr[data-team="reqco"]').count(), 0, 'not a member until approved')

    await adaPage.reload()
    const req = adaPage.locator('#join-requests li[data-requester="frank"]')
    await req.waitFor()
    await shot(adaPage, 'team-join-request')
    await req.locator('.approve-request').click()
    await adaPage.waitForSelector('#members-table tr[data-member="frank"]')
    assert.equal(await adaPage.locator('#join-requests').count(), 0)

    await openSettingsTeams(page)
    await page.waitForSelector('#teams-table tr[data-team="reqco"]')
  })

  test('Verify email: the button mails a link; the link verifies and domain teams appear', async () => {
    await as('grace')
    await openSettingsTeams(page)
    assert.equal(await page.locator('#joinable-teams').count(), 0)
    await page.click('#verify-email')
    await page.waitForSelector('#verify-email-sent')
    assert.equal(await text(page, '#verify-email-sent'), 'We sent a verification link to grace@example.com.')
    const mail = await sink.waitFor((m) => m.to.includes('grace@example.com') && /verify-email#token=/.test(m.text))
    const token = linkToken(mail, '/verify-email')
    assert.ok(token)
    await page.goto(`${server.url}/verify-email#token=${encodeURIComponent(token)}`)
    await page.waitForSelector('#verify-email-done')
    assert.equal(await text(page, '#verify-email-done'), 'Your email address is verified.')
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar')
    await shot(page, 'verify-email-done')
    await page.click('#verify-email-teams')
    await page.waitForSelector('#joinable-teams')
    assert.equal(await page.locator('#email-unverified').count(), 0)
  })

  test('Hide teams in public profile hides the team list from other visitors', async () => {
    await as('bob')
    await page.goto(`${server.url}/bob`)
    await page.waitForSelector('#profile-teams')
    assert.deepEqual((await page.locator('#profile-teams li').allTextContents()).map((s) => s.trim()), ['acme'])
    await adaPage.goto(`${server.url}/bob`)
    await adaPage.waitForSelector('#profile-teams')
    await shot(adaPage, 'profile-teams-visible')

    await openSettingsTeams(page)
    await page.click('label[for="hide-teams"]')
    await page.waitForSelector('#hide-teams-saved')
    assert.equal(await text(page, '#hide-teams-saved'), 'Your teams are hidden from your public profile.')
    assert.equal(await page.isChecked('#hide-teams'), true)
    await shot(page, 'teams-hide-toggle-on')
    await page.reload()
    await page.waitForSelector('#hide-teams')
    assert.equal(await page.isChecked('#hide-teams'), true, 'the setting is kept')

    // another person, and anyone anonymous, no longer sees bob's teams
    await adaPage.reload()
    await adaPage.waitForSelector('#public-profile')
    assert.equal(await adaPage.locator('#profile-teams').count(), 0)
    await shot(adaPage, 'profile-teams-hidden')
    const anon = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: 'query { user(username: "bob") { teams { edges { node { name isTeam } } } } }' }),
    }).then((r) => r.json())
    assert.deepEqual(anon.data.user.teams.edges.filter((e) => e.node.isTeam), [])

    // bob still sees his own list, with a note
    await page.goto(`${server.url}/bob`)
    await page.waitForSelector('#profile-teams-hidden')
    assert.match(await text(page, '#profile-teams-hidden'), /Only you see this list/)

    // and turning it off shows them again
    await openSettingsTeams(page)
    await page.click('label[for="hide-teams"]')
    await page.waitForSelector('#hide-teams-saved')
    await adaPage.reload()
    await adaPage.waitForSelector('#profile-teams')
  })

  test('service accounts: create one, its key is shown once with Copy and the warning, works, and can be deleted', async () => {
    await openTeam(adaPage, 'acme')
    await adaPage.waitForSelector('#service-accounts-empty')
    await adaPage.click('#create-sa-submit')
    await adaPage.waitForSelector('#sa-name-error')
    await adaPage.fill('#sa-name', 'ci-bot')
    await adaPage.fill('#sa-description', 'CI pipeline')
    await adaPage.click('#create-sa-submit')
    await adaPage.waitForSelector('#sa-created')
    const sa = adaPage.locator('#service-accounts .service-account').first()
    await sa.waitFor()
    assert.match(await sa.textContent(), /ci-bot/)
    assert.match(await sa.textContent(), /CI pipeline/)
    await sa.locator('.sa-keys-empty').waitFor()
    assert.equal(await adaPage.locator('#members-table tr[data-member="ci-bot"]').count(), 0, 'service accounts are listed in their own block')
    const heads = (await sa.locator('thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads.slice(0, 4), ['Key ID', 'Name', 'Created', 'Last used'])

    await sa.locator('.create-sa-key').click()
    await adaPage.waitForSelector('#create-sa-key-dialog[open] #sa-key-name')
    assert.equal(await text(adaPage, '#create-sa-key-dialog-title'), 'Create new API key')
    await adaPage.fill('#sa-key-name', 'github actions')
    await adaPage.click('#create-sa-key-submit')
    await adaPage.waitForSelector('#new-sa-key')
    const fullKey = await adaPage.inputValue('#new-sa-key')
    assert.match(fullKey, /^[A-Za-z0-9_-]{20,}$/)
    assert.equal(await text(adaPage, '#new-sa-key-warning'), EN.warning)
    await shot(adaPage, 'service-account-key-created')
    await adaPage.click('#copy-sa-key')
    await adaPage.waitForFunction(() => document.querySelector('#copy-sa-key').textContent.trim() === 'Copied')
    assert.equal(await adaPage.evaluate(() => navigator.clipboard.readText()), fullKey)
    await adaPage.click('#close-sa-key-dialog')
    await adaPage.waitForSelector('#create-sa-key-dialog:not([open])', { state: 'attached' })
    assert.equal(await adaPage.evaluate((k) => document.documentElement.outerHTML.includes(k), fullKey), false, 'shown once')

    const row = sa.locator('tbody tr[data-key-id]')
    await row.waitFor()
    const keyId = (await row.locator('.key-id').textContent()).trim()
    assert.ok(fullKey.startsWith(keyId), `Key ID ${keyId} is the start of the key`)
    assert.equal((await row.locator('.key-name').textContent()).trim(), 'github actions')
    await shot(adaPage, 'service-account-keys')

    // the key works, as the service account, whose default entity is its team
    const r = await gqlWithKey(server, fullKey, 'query { viewer { username accountType entity } }')
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.data.viewer.accountType, 'SERVICE')
    assert.equal(r.body.data.viewer.entity, 'acme')

    await row.locator('.delete-sa-key').click()
    await adaPage.waitForSelector('#delete-sa-key-dialog[open]')
    assert.ok((await text(adaPage, '#delete-sa-key-text')).includes(keyId))
    await adaPage.click('#confirm-delete-sa-key')
    await sa.locator('.sa-keys-empty').waitFor()
    const gone = await gqlWithKey(server, fullKey, 'query { viewer { username } }')
    assert.equal(gone.status, 401)
  })

  test('Delete team asks to type the team name', async () => {
    await createTeamInSettings(adaPage, 'tempteam')
    await openTeam(adaPage, 'tempteam')
    await adaPage.click('#delete-team')
    await adaPage.waitForSelector('#delete-team-dialog[open]')
    assert.equal(await text(adaPage, 'label[for="delete-team-confirm-name"]'), 'Type the team name (tempteam) to confirm')
    assert.equal(await adaPage.isDisabled('#confirm-delete-team'), true)
    await adaPage.fill('#delete-team-confirm-name', 'tempteam-x')
    assert.equal(await adaPage.isDisabled('#confirm-delete-team'), true)
    await adaPage.fill('#delete-team-confirm-name', 'tempteam')
    assert.equal(await adaPage.isDisabled('#confirm-delete-team'), false)
    await shot(adaPage, 'team-delete-confirm')
    await adaPage.click('#confirm-delete-team')
    await adaPage.waitForURL(`${server.url}/settings#teams`)
    await adaPage.waitForSelector('#teams-table tr[data-team="acme"]')
    assert.equal(await adaPage.locator('#teams-table tr[data-team="tempteam"]').count(), 0)
    await openTeam(adaPage, 'tempteam')
    await adaPage.waitForSelector('#user-not-found, #team-not-found')
  })

  test('a member leaves a team', async () => {
    await as('bob')
    await openTeam(page, 'acme')
    await page.click('#leave-team')
    await page.waitForSelector('#leave-team-dialog[open]')
    await page.click('#confirm-leave-team')
    await page.waitForURL(`${server.url}/settings#teams`)
    await page.waitForSelector('#teams-table')
    assert.equal(await page.locator('#teams-table tr[data-team="acme"]').count(), 0)
  })

  test('no script errors and no CSP violations on any page', () => {
    for (const p of [adaPage, page]) {
      assert.deepEqual(p.errors, [])
      assert.deepEqual(cspViolations(p), [])
    }
  })
})
