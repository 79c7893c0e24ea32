// The teams flow in Korean: the seed's labels (Default team, Default location to create new
// projects in, Teams, We found teams for you to join, View teams, Hide teams in public profile,
// Manage teams) stay as the seed writes them; everything else is Korean, including the server's
// error codes. Also checks that both locale files have the same keys.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { UI_DIR, createUser, cspViolations, launch, shot, signIn, startServer, verifyEmail } from './helpers.mjs'

const text = async (page, sel) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim()

function keys(obj, prefix = '') {
  return Object.entries(obj).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]))
}
const en = JSON.parse(readFileSync(join(UI_DIR, 'src/locales/en.json'), 'utf8'))
const ko = JSON.parse(readFileSync(join(UI_DIR, 'src/locales/ko.json'), 'utf8'))

const TEAM_ERROR_CODES = [
  'team_name_invalid',
  'team_name_reserved',
  'team_name_taken',
  'not_team_member',
  'entity_not_found',
  'entity_forbidden',
  'last_team_admin',
  'invite_exists',
  'invite_expired',
  'invite_not_found',
  'already_member',
  'join_not_allowed',
  'email_not_verified',
  'attribution_refused',
  'role_invalid',
  'service_account_forbidden',
  'admin_required',
]

test('en.json and ko.json have the same keys, and every team error code is translated in both', () => {
  const strip = (k) => k.replace(/_(one|other)$/, '')
  assert.deepEqual([...new Set(keys(ko).map(strip))].sort(), [...new Set(keys(en).map(strip))].sort())
  for (const code of TEAM_ERROR_CODES) {
    assert.ok(en.errors[code], `en errors.${code}`)
    assert.ok(ko.errors[code], `ko errors.${code}`)
    assert.notEqual(en.errors[code], ko.errors[code], `errors.${code} is translated`)
    assert.match(ko.errors[code], /[가-힣]/, `errors.${code} is Korean`)
  }
  // the seed's labels are the same in both files
  for (const k of ['defaultTeam.title', 'defaultTeam.label', 'teams.title', 'teams.foundTeams', 'teams.viewTeams', 'teams.hideTeams', 'teams.manageTeams']) {
    const get = (o) => k.split('.').reduce((a, p) => a[p], o)
    assert.equal(get(ko), get(en), k)
  }
})

describe('Teams in Korean', () => {
  let server, minji, mPage, other, page

  before(async () => {
    server = await startServer()
    createUser(server, 'minji', { name: '김민지' })
    createUser(server, 'jisoo', { name: '박지수' })
    createUser(server, 'hana', { name: '이하나' })
    createUser(server, 'outsider', { name: '외부인' })
    minji = await launch({ locale: 'ko-KR' })
    await minji.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    mPage = await minji.newPage()
    await signIn(mPage, server, 'minji')
    other = await launch({ locale: 'ko-KR' })
    page = await other.newPage()
  })
  after(async () => {
    await minji?.close()
    await other?.close()
    await server?.stop()
  })

  async function as(username) {
    await other.context.clearCookies()
    await signIn(page, server, username)
  }

  test('Settings → Teams, create a team, Default team', async () => {
    await mPage.goto(`${server.url}/settings#teams`)
    await mPage.waitForSelector('#teams-table')
    assert.equal(await mPage.getAttribute('html', 'lang'), 'ko')
    assert.equal(await text(mPage, '#teams-title'), 'Teams')
    assert.equal(await text(mPage, '#nav-teams'), 'Teams')
    assert.match(await text(mPage, '#teams'), /Teams 섹션에는 내가 속한 모든 팀이 나열됩니다/)
    assert.equal(await text(mPage, '#teams-empty'), '아직 소속된 팀이 없습니다.')
    assert.equal(await text(mPage, 'label[for="hide-teams"]'), 'Hide teams in public profile')
    assert.match(await text(mPage, '#manage-teams-hint'), /^Manage teams: 팀 페이지에서/)
    assert.equal(await text(mPage, '#verify-email'), '이메일 인증')
    assert.equal(await text(mPage, 'label[for="team-name"]'), '팀 이름')
    assert.equal(await text(mPage, '#create-team-submit'), '팀 만들기')
    assert.equal(await mPage.locator('#default-team').count(), 0)

    // errors from the page and from the server, in Korean
    await mPage.fill('#team-name', '서울 랩')
    await mPage.click('#create-team-submit')
    await mPage.waitForSelector('#team-name-error')
    assert.equal(await text(mPage, '#team-name-error'), "팀 이름에는 영문자, 숫자, '-', '_'만 사용할 수 있습니다.")
    await mPage.fill('#team-name', 'jisoo')
    await mPage.click('#create-team-submit')
    await mPage.waitForFunction(() => document.querySelector('#team-name-error')?.textContent.trim() === '이미 다른 사용자나 팀이 사용 중인 이름입니다.')
    await shot(mPage, 'ko-teams-validation')

    await mPage.fill('#team-name', 'seoul-lab')
    await mPage.fill('#team-description', '서울 연구실')
    await mPage.click('#create-team-submit')
    await mPage.waitForSelector('#team-created')
    assert.match(await text(mPage, '#team-created'), /seoul-lab 팀을 만들었습니다\. 팀 페이지 열기/)
    assert.equal(await text(mPage, '#teams-table tr[data-team="seoul-lab"] .team-role'), '관리자')
    const heads = (await mPage.locator('#teams-table thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads, ['팀', '역할'])

    // one team is the default (the seed); a second one brings the Default team section
    assert.equal(await mPage.locator('#default-team').count(), 0)
    await mPage.fill('#team-name', 'busan-lab')
    await mPage.click('#create-team-submit')
    await mPage.waitForFunction(() => /busan-lab/.test(document.querySelector('#team-created')?.textContent ?? ''))
    await mPage.waitForSelector('#default-team')
    assert.equal(await text(mPage, '#default-team-title'), 'Default team')
    assert.equal(await text(mPage, 'label[for="default-team-select"]'), 'Default location to create new projects in')
    assert.deepEqual((await mPage.locator('#default-team-select option').allTextContents()).map((s) => s.trim()), ['minji (개인)', 'busan-lab', 'seoul-lab'])
    assert.match(await text(mPage, '#default-team-env'), /WANDB_ENTITY 환경 변수로 기본 위치를 지정할 수 있으며/)
    await mPage.selectOption('#default-team-select', 'seoul-lab')
    await mPage.waitForSelector('#default-team-saved')
    assert.equal(await text(mPage, '#default-team-saved'), '이제 새 프로젝트는 seoul-lab 에 생성됩니다.')
    await shot(mPage, 'ko-teams-settings')
  })

  test('the team page, an invitation accepted in Settings, and the last admin', async () => {
    await mPage.click('#teams-table tr[data-team="seoul-lab"] a')
    await mPage.waitForSelector('#team-page')
    assert.match(await text(mPage, '#team-summary'), /멤버 1명 · 내 역할: 관리자/)
    assert.equal(await text(mPage, '#team-members-title'), '멤버')
    const heads = (await mPage.locator('#members-table thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads.slice(0, 3), ['사용자 이름', '이름', '역할'])
    assert.equal(await text(mPage, '#team-invite-title'), '멤버 초대')
    assert.equal(await text(mPage, 'label[for="invite-who"]'), '사용자 이름 또는 이메일')
    assert.equal(await text(mPage, '#invite-submit'), '초대')
    assert.equal(await text(mPage, '#leave-team'), '팀 나가기')
    assert.equal(await text(mPage, '#delete-team'), '팀 삭제')
    assert.equal(await text(mPage, '#service-accounts-title'), '서비스 계정')

    await mPage.fill('#invite-who', 'jisoo')
    await mPage.click('#invite-submit')
    await mPage.waitForSelector('#invite-message')
    assert.equal(await text(mPage, '#invite-message'), 'jisoo 님에게 초대를 보냈습니다 (멤버).')
    await mPage.fill('#invite-who', 'jisoo')
    await mPage.click('#invite-submit')
    await mPage.waitForSelector('#invite-error')
    assert.equal(await text(mPage, '#invite-error'), '이 사람에게 이미 대기 중인 팀 초대가 있습니다.')
    await shot(mPage, 'ko-team-page')

    await as('jisoo')
    await page.goto(`${server.url}/settings#teams`)
    const inv = page.locator('#my-invites li[data-invite-team="seoul-lab"]')
    await inv.waitFor()
    assert.equal(await text(page, '#my-invites h3'), '받은 초대')
    assert.match((await inv.textContent()).replace(/\s+/g, ' '), /역할: 멤버 · minji 님이 초대함 · 만료: /)
    await shot(page, 'ko-teams-invitation')
    assert.equal((await inv.locator('.decline-invite').textContent()).trim(), '거절')
    await inv.locator('.accept-invite').click()
    await page.waitForSelector('#my-invites-message')
    assert.equal(await text(page, '#my-invites-message'), 'seoul-lab 팀에 가입했습니다.')

    // the last admin cannot leave
    await mPage.reload()
    await mPage.waitForSelector('#members-table tr[data-member="jisoo"]')
    await mPage.click('#leave-team')
    await mPage.waitForSelector('#leave-team-dialog[open]')
    assert.equal(await text(mPage, '#leave-team-text'), 'seoul-lab 팀에서 나가시겠습니까? 다시 초대받을 때까지 팀 프로젝트에 접근할 수 없습니다.')
    await mPage.click('#confirm-leave-team')
    await mPage.waitForSelector('#leave-team-error')
    assert.equal(await text(mPage, '#leave-team-error'), '팀에는 관리자가 한 명 이상 있어야 합니다. 먼저 다른 멤버를 관리자로 지정하세요.')
    await shot(mPage, 'ko-team-last-admin')
    await mPage.click('#cancel-leave-team')

    // role change and removal, in Korean
    await mPage.locator('#members-table tr[data-member="jisoo"] select.role-select').selectOption('viewer')
    await mPage.waitForSelector('#members-message')
    assert.equal(await text(mPage, '#members-message'), 'jisoo 님의 역할을 변경했습니다: 뷰어')
    await mPage.locator('#members-table tr[data-member="jisoo"] .remove-member').click()
    await mPage.waitForSelector('#remove-member-dialog[open]')
    assert.equal(await text(mPage, '#remove-member-text'), 'jisoo 님을 seoul-lab 팀에서 제거하시겠습니까?')
    await mPage.click('#cancel-remove-member')
  })

  test('the join flow: We found teams for you to join → View teams → 가입', async () => {
    await mPage.check('#join-policy input[value="DOMAIN_DIRECT"]')
    await mPage.fill('#team-email-domain', 'example.com')
    await mPage.click('#team-settings-save')
    await mPage.waitForSelector('#team-settings-saved')
    assert.equal(await text(mPage, '#team-settings-saved'), '팀 설정을 저장했습니다.')

    verifyEmail(server, 'hana')
    await as('hana')
    await page.goto(`${server.url}/settings#teams`)
    await page.waitForSelector('#joinable-teams')
    assert.equal(await text(page, '#joinable-teams span'), 'We found teams for you to join')
    assert.equal(await text(page, '#view-teams'), 'View teams')
    await page.click('#view-teams')
    await page.waitForSelector('#join-teams-dialog[open]')
    assert.equal(await text(page, '#join-teams-dialog-title'), '가입할 수 있는 팀')
    const item = page.locator('#join-teams-dialog li[data-join-team="seoul-lab"]')
    assert.equal((await item.locator('.join-team').textContent()).trim(), '가입')
    assert.match(await item.textContent(), /인증된 @example\.com 이메일 주소가 있으면 바로 가입할 수 있습니다/)
    await shot(page, 'ko-teams-join-dialog')
    await item.locator('.join-team').click()
    await item.locator('.join-done').waitFor()
    assert.equal((await item.locator('.join-done').textContent()).trim(), '가입했습니다')
    await page.click('#close-join-dialog')
    await page.waitForSelector('#teams-table tr[data-team="seoul-lab"]')
    assert.equal(await text(page, '#teams-table tr[data-team="seoul-lab"] .team-role'), '멤버')
  })

  test('Hide teams in public profile, a non-member, bad links, a service account key — in Korean', async () => {
    // hana hides her teams; minji no longer sees them on hana's profile
    await mPage.goto(`${server.url}/hana`)
    await mPage.waitForSelector('#profile-teams')
    assert.equal(await text(mPage, '#profile-teams-title'), '팀')
    await page.click('label[for="hide-teams"]')
    await page.waitForSelector('#hide-teams-saved')
    assert.equal(await text(page, '#hide-teams-saved'), '공개 프로필에서 팀을 숨겼습니다.')
    await mPage.reload()
    await mPage.waitForSelector('#public-profile')
    assert.equal(await mPage.locator('#profile-teams').count(), 0)

    await as('outsider')
    await page.goto(`${server.url}/seoul-lab`)
    await page.waitForSelector('#team-not-member')
    assert.match(await text(page, '#team-not-member'), /이 팀의 멤버가 아닙니다\./)
    await shot(page, 'ko-team-not-member')

    await page.goto(`${server.url}/invites#token=bogus-token`)
    await page.waitForSelector('#invite-error, #accept-invite')
    assert.equal(await text(page, '#invite-page h1'), '팀 초대')
    if (await page.locator('#accept-invite').count()) {
      assert.equal(await text(page, '#accept-invite'), '수락')
      await page.click('#accept-invite')
    }
    await page.waitForSelector('#invite-error, #invite-action-error')
    assert.equal(await text(page, '#invite-error, #invite-action-error'), '초대를 찾을 수 없습니다. 취소되었거나 이미 응답한 초대일 수 있습니다.')
    await shot(page, 'ko-invite-link-bogus')

    await page.goto(`${server.url}/verify-email#token=bogus-token`)
    await page.waitForSelector('#verify-email-error')
    assert.equal(await text(page, '#verify-email-page h1'), '이메일 인증')

    // a service account and its key, shown once with the Korean warning
    await mPage.goto(`${server.url}/seoul-lab`)
    await mPage.waitForSelector('#service-accounts')
    await mPage.fill('#sa-name', 'ci-bot')
    await mPage.fill('#sa-description', '빌드 서버')
    await mPage.click('#create-sa-submit')
    await mPage.waitForSelector('#sa-created')
    assert.equal(await text(mPage, '#sa-created'), '서비스 계정을 만들었습니다: ci-bot')
    await mPage.locator('#service-accounts .create-sa-key').first().click()
    await mPage.waitForSelector('#create-sa-key-dialog[open] #sa-key-name')
    assert.equal(await text(mPage, '#create-sa-key-submit'), 'Create')
    await mPage.click('#create-sa-key-submit')
    await mPage.waitForSelector('#new-sa-key')
    assert.equal(await text(mPage, '#new-sa-key-warning'), '지금 이 API 키를 복사하여 안전하게 보관하세요. 이 키는 다시 표시되지 않습니다.')
    assert.equal(await text(mPage, '#copy-sa-key'), '복사')
    await shot(mPage, 'ko-service-account-key')
    await mPage.click('#close-sa-key-dialog')
    const created = (await mPage.locator('#service-accounts .key-created').first().textContent()).trim()
    assert.match(created, /오전|오후/, `Korean date: ${created}`)

    // delete team: the confirmation asks for the name, in Korean
    await mPage.click('#delete-team')
    await mPage.waitForSelector('#delete-team-dialog[open]')
    assert.equal(await text(mPage, 'label[for="delete-team-confirm-name"]'), '확인하려면 팀 이름(seoul-lab)을 입력하세요')
    await shot(mPage, 'ko-team-delete-confirm')
    await mPage.click('#cancel-delete-team')

    for (const p of [mPage, page]) {
      assert.deepEqual(p.errors, [])
      assert.deepEqual(cspViolations(p), [])
    }
  })
})
