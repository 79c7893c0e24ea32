// Settings → Alerts: the seed's rows (Runs finished, Run crashed, Scriptable run alerts) with
// a switch per channel; email on at first, a switch flipped by keyboard is kept; Slack and
// webhook off and disabled with the reason linked; axe-core clean; Korean.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { axeViolations, createUser, shot, signedIn, startServer } from './helpers.mjs'

const text = async (page, sel) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim()

const axe = (page) => axeViolations(page, '#alerts')

const email = (event) => `#alerts-table tr[data-event="${event}"] input[data-channel="EMAIL"]`

describe('Settings → Alerts', () => {
  let server, browser, page

  before(async () => {
    server = await startServer()
    createUser(server, 'ada')
    ;({ browser, page } = await signedIn(server, 'ada'))
  })
  after(async () => {
    await browser?.close()
    server?.stop()
  })

  test('email is on for every event; a switch flipped by keyboard is kept; other channels wait', async () => {
    await page.goto(`${server.url}/settings#alerts`)
    await page.waitForSelector('#alerts-table[aria-busy="false"]')
    const rows = (await page.locator('#alerts-table .alert-event').allTextContents()).map((s) => s.trim())
    assert.deepEqual(rows, ['Runs finished', 'Run crashed', 'Scriptable run alerts'])
    for (const e of ['RUNS_FINISHED', 'RUN_CRASHED', 'SCRIPTABLE_RUN_ALERTS']) assert.equal(await page.isChecked(email(e)), true, e)
    const slack = '#alerts-table tr[data-event="RUN_CRASHED"] input[data-channel="SLACK"]'
    assert.equal(await page.isChecked(slack), false)
    assert.equal(await page.isDisabled(slack), true)
    assert.equal(await page.getAttribute(slack, 'aria-describedby'), 'alerts-unavailable')

    await page.focus(email('RUN_CRASHED'))
    await page.keyboard.press('Space')
    await page.waitForFunction((sel) => !document.querySelector(sel).checked && !document.querySelector(sel).disabled, email('RUN_CRASHED'))
    await page.reload()
    await page.waitForSelector('#alerts-table[aria-busy="false"]')
    assert.equal(await page.isChecked(email('RUN_CRASHED')), false, 'kept after a reload')
    assert.equal(await page.isChecked(email('RUNS_FINISHED')), true)
    assert.deepEqual(await axe(page), [])
    await shot(page, 'alerts-settings')
    await page.setViewportSize({ width: 390, height: 844 })
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'fits a phone')
    await page.setViewportSize({ width: 1280, height: 900 })
    assert.deepEqual(page.errors, [])
  })

  test("in Korean, the seed keeps the rows' names and the rest is Korean", async () => {
    const { browser: ko, page: p } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await p.goto(`${server.url}/settings#alerts`)
      await p.waitForSelector('#alerts-table')
      assert.equal(await text(p, '#alerts-title'), 'Alerts')
      assert.equal(await text(p, '#alerts-table thead th:nth-child(2)'), '이메일')
      assert.match(await text(p, '#alerts-unavailable'), /Slack이나 웹훅/)
      assert.equal(await p.$eval('#alerts .help', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      await shot(p, 'alerts-settings-ko')
    } finally {
      await ko.close()
    }
  })
})
