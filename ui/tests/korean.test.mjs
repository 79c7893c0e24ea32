// The main flow in Korean: browser language by default, the visible switch (remembered),
// seed labels kept verbatim, Korean field labels, translated validation and server errors,
// Korean dates, and the editor's own strings.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PASSWORD, createUser, cspViolations, launch, shot, signedIn, startServer } from './helpers.mjs'

describe('Korean', () => {
  let server

  before(async () => {
    server = await startServer()
    createUser(server, 'minji', { name: '김민지' })
  })
  after(async () => {
    await server?.stop()
  })

  test('a Korean browser gets Korean by default', async () => {
    const browser = await launch({ locale: 'ko-KR' })
    try {
      const page = await browser.newPage()
      await page.goto(`${server.url}/login`)
      await page.waitForSelector('#login-submit')
      assert.equal(await page.getAttribute('html', 'lang'), 'ko')
      assert.equal((await page.textContent('#login-submit')).trim(), '로그인')
      assert.equal(await page.inputValue('#lang-switch'), 'ko')
      await shot(page, 'ko-login')
    } finally {
      await browser.close()
    }
  })

  test('the main flow in Korean through the language switch', async () => {
    const browser = await launch({ locale: 'en-US' })
    try {
      const page = await browser.newPage()
      await page.goto(`${server.url}/login`)
      await page.waitForSelector('#login-submit')
      assert.equal((await page.textContent('#login-submit')).trim(), 'Sign in')
      await page.selectOption('#lang-switch', 'ko')
      assert.equal((await page.textContent('#login-submit')).trim(), '로그인')
      await page.reload()
      await page.waitForSelector('#login-submit')
      assert.equal((await page.textContent('#login-submit')).trim(), '로그인', 'the choice is remembered')

      // sign-in error, translated
      await page.fill('#login-name', 'minji')
      await page.fill('#login-password', 'wrong password')
      await page.click('#login-submit')
      await page.waitForSelector('#login-error')
      assert.equal((await page.textContent('#login-error')).trim(), '사용자 이름(또는 이메일)이나 비밀번호가 올바르지 않습니다.')
      await page.fill('#login-password', PASSWORD)
      await page.click('#login-submit')
      await page.waitForURL(`${server.url}/settings`)
      await page.waitForSelector('#profile')
      assert.equal(await page.inputValue('#profile-name'), '김민지')

      // seed labels stay as the seed writes them; the rest is Korean
      assert.equal((await page.textContent('.settings-nav h1')).trim(), 'Settings')
      assert.equal((await page.textContent('#profile-title')).trim(), 'Profile')
      assert.equal((await page.textContent('#api-keys-title')).trim(), 'API keys')
      assert.equal((await page.textContent('#profile-save')).trim(), 'Save')
      assert.equal((await page.textContent('#create-key')).trim(), 'Create new API key')
      const heads = (await page.locator('#api-keys-table thead th').allTextContents()).map((s) => s.trim())
      assert.deepEqual(heads.slice(0, 4), ['Key ID', 'Name', 'Created', 'Last used'])
      for (const [id, label] of [
        ['profile-name', '계정 이름'],
        ['profile-institution', '소속 기관'],
        ['profile-bio', '약력'],
        ['profile-location', '위치'],
        ['profile-website', '웹사이트'],
      ]) {
        assert.equal((await page.textContent(`label[for="${id}"]`)).trim(), label)
      }
      assert.match(await page.textContent('#profile'), /프로필 이미지/)
      assert.match(await page.textContent('#profile'), /Profile 섹션에서는 계정 이름과 소속 기관을 관리하고 수정할 수 있습니다/)
      assert.match(await page.textContent('#api-keys-note'), /WANDB_API_KEY/)
      await shot(page, 'ko-settings')

      // user menu
      await page.click('#user-menu-button')
      assert.equal((await page.textContent('#menu-settings')).trim(), 'Settings')
      assert.equal((await page.textContent('#logout')).trim(), '로그아웃')
      assert.equal((await page.textContent('#logout-everywhere')).trim(), '모든 기기에서 로그아웃')
      await page.keyboard.press('Escape')

      // validation messages, from the page and from the server
      await page.fill('#profile-website', 'ftp://x')
      await page.click('#profile-save')
      await page.waitForSelector('#profile-website-error')
      assert.equal((await page.textContent('#profile-website-error')).trim(), '웹사이트는 http:// 또는 https:// 로 시작하는 올바른 주소여야 합니다.')
      await page.fill('#profile-website', '')
      await page.fill('#profile-bio', '가'.repeat(1001))
      await page.click('#profile-save')
      await page.waitForSelector('#profile-bio-error')
      assert.equal((await page.textContent('#profile-bio-error')).trim(), '약력이 너무 길거나(최대 1,000자) 사용할 수 없는 문자가 포함되어 있습니다.')
      await shot(page, 'ko-validation')
      await page.fill('#profile-bio', '머신러닝 엔지니어입니다.')
      await page.fill('#profile-institution', '서울대학교')
      await page.click('#profile-save')
      await page.waitForSelector('#profile-saved')
      assert.equal((await page.textContent('#profile-saved')).trim(), '프로필을 저장했습니다.')

      // an image error, translated
      const chooser = page.waitForEvent('filechooser')
      await page.click('#avatar-upload')
      await (await chooser).setFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') })
      await page.waitForSelector('#avatar-error')
      assert.equal((await page.textContent('#avatar-error')).trim(), '지원하지 않는 파일 형식입니다. PNG, JPEG, WebP 또는 GIF 이미지를 선택하세요.')

      // create a key: Korean warning, Korean dates, seed labels on the buttons
      await page.click('#create-key')
      await page.waitForSelector('#create-key-dialog[open] #key-name')
      assert.equal((await page.textContent('#create-key-submit')).trim(), 'Create')
      await page.fill('#key-name', '노트북')
      await page.click('#create-key-submit')
      await page.waitForSelector('#new-key')
      assert.equal((await page.textContent('#new-key-warning')).trim(), '지금 이 API 키를 복사하여 안전하게 보관하세요. 이 키는 다시 표시되지 않습니다.')
      await shot(page, 'ko-key-created')
      await page.click('#close-key-dialog')
      await page.waitForSelector('#api-keys-table tbody tr[data-key-id]')
      const created = (await page.textContent('#api-keys-table .key-created')).trim()
      assert.match(created, /오전|오후/, `Korean date: ${created}`)
      assert.equal((await page.textContent('#api-keys-table .key-last-used')).trim(), '사용 기록 없음')
      await page.locator('#api-keys-table .delete-key').first().click()
      await page.waitForSelector('#delete-key-dialog[open]')
      assert.match(await page.textContent('#delete-key-text'), /삭제하시겠습니까/)
      assert.match(await page.textContent('#delete-key-text'), /노트북/)
      assert.equal((await page.textContent('#confirm-delete-key')).trim(), 'Delete')
      await shot(page, 'ko-delete-key')
      await page.click('#cancel-delete-key')

      // the public profile and the editor's own strings
      await page.click('#edit-intro-link')
      await page.waitForURL(`${server.url}/minji`)
      await page.waitForSelector('#public-profile')
      assert.equal((await page.textContent('#profile-display-name')).trim(), '김민지')
      assert.equal((await page.textContent('#profile-institution')).trim(), '서울대학교')
      assert.equal((await page.textContent('#intro-title')).trim(), '소개')
      assert.equal((await page.textContent('#edit-intro')).trim(), 'Edit')
      await page.click('#edit-intro')
      await page.waitForSelector('.intro-editor[data-ready="true"] .ProseMirror')
      assert.match(await page.textContent('.intro-help'), /드래그 핸들을 클릭한 다음 Delete 를 클릭하세요/)
      await page.click('.intro-editor .ProseMirror')
      await page.keyboard.type('/')
      const menu = page.locator('.milkdown-slash-menu[data-show="true"]')
      await menu.waitFor()
      const items = await menu.locator('li').allTextContents()
      assert.ok(items.some((t) => t.includes('제목 2')), `Korean slash menu: ${items}`)
      await shot(page, 'ko-slash-menu')
      await menu.locator('li', { hasText: '제목 2' }).click()
      await page.keyboard.type('연구 분야')
      assert.equal((await page.textContent('#save-intro')).trim(), 'Save')
      await page.click('#save-intro')
      await page.waitForSelector('#intro-content h2')
      assert.equal((await page.textContent('#intro-content h2')).trim(), '연구 분야')
      await shot(page, 'ko-public-profile')

      // switching back to English works in place, and the server keeps it for the mails
      const saved = page.waitForResponse(
        (r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('mutation Language'),
      )
      await page.selectOption('#lang-switch', 'en')
      assert.equal((await page.textContent('#intro-title')).trim(), 'Intro')
      const answer = await (await saved).json()
      assert.equal(answer.errors, undefined, JSON.stringify(answer))
      assert.equal(await page.locator('.banner.error').count(), 0)
      assert.deepEqual(page.errors, [])
    assert.deepEqual(cspViolations(page), [])
    } finally {
      await browser.close()
    }
  })

  test('the language chosen while signed in follows the person to another browser', async () => {
    // the last test left minji's choice at English; this browser speaks Korean (the first
    // test shows it starts in Korean)
    const { browser, page } = await signedIn(server, 'minji', { locale: 'ko-KR' })
    try {
      await page.waitForFunction(() => document.documentElement.lang === 'en')
      assert.equal(await page.inputValue('#lang-switch'), 'en')
      assert.deepEqual(page.errors, [])
    } finally {
      await browser.close()
    }
  })
})
