// Settings → Alerts channels against a local Slack stand-in (slack.mjs): Connect Slack runs
// the OAuth flow by keyboard and alerts then reach the channel; a webhook's secret is shown
// once and its requests are signed; a project muted, the minimum run duration set, a
// channel disconnected; a broken Slack channel says why; a team's admins route the team's
// alerts on its page; the run page logs every delivery; axe-core, 390 px and Korean.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, gqlWithKey, shot, signedIn, sleep, startServer } from './helpers.mjs'
import { startSlack } from './slack.mjs'

const text = async (page, sel) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim()
const switchOf = (event, channel) => `#alerts-table tr[data-event="${event}"] input[data-channel="${channel}"]`
const UPSERT = 'mutation($n: String!, $e: String!, $p: String!) { upsertBucket(input: {name: $n, entityName: $e, modelName: $p}) { bucket { id } } }'

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const got = await fn()
    if (got) return got
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

describe('Alerts → Slack and webhooks', () => {
  let server, slack, browser, page, key

  /** A run of `entity/project/run` that ends with `exitcode`, logged with ada's key. */
  async function finishRun(entity, project, run, exitcode = 0) {
    const r = await gqlWithKey(server, key, UPSERT, { n: run, e: entity, p: project })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const res = await fetch(`${server.url}/files/${entity}/${project}/${run}/file_stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}` },
      body: JSON.stringify({ complete: true, exitcode }),
    })
    assert.equal(res.status, 200)
  }

  async function openAlerts(p = page, path = '/settings#alerts') {
    // the same address again is only a change of hash: load the page anew instead
    if (p.url() === `${server.url}${path}`) await p.reload()
    else await p.goto(`${server.url}${path}`)
    await p.waitForSelector('#alerts-table[aria-busy="false"]')
  }

  before(async () => {
    slack = await startSlack()
    server = await startServer({ env: slack.env() })
    createUser(server, 'ada')
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'runs'])
    ;({ browser, page } = await signedIn(server, 'ada'))
  })
  after(async () => {
    await browser?.close()
    server?.stop()
    await slack?.close()
  })

  test('Connect Slack by keyboard, then a finished run reaches the channel and the run page logs it', async () => {
    await openAlerts()
    assert.equal(await page.isDisabled(switchOf('RUNS_FINISHED', 'SLACK')), true)
    assert.equal(await text(page, '#alert-channels-empty'), 'No Slack channel or webhook yet.')
    await page.focus('#connect-slack')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#slack-outcome')
    assert.equal(await text(page, '#slack-outcome'), 'Slack is connected. Alerts will arrive in the channel you picked.')
    assert.equal(new URL(page.url()).search, '', 'the outcome is taken out of the address')
    await page.waitForSelector('#alerts-table[aria-busy="false"]')
    assert.equal(await text(page, '#alert-channels tr[data-kind="slack"] .channel-destination'), 'Lab Slack · #ml-alerts')
    assert.equal(await page.isChecked(switchOf('RUNS_FINISHED', 'SLACK')), true, 'a connected channel is on')

    await finishRun('ada', 'vision', 'r1')
    const [hit] = await until('the Slack message', () => slack.hits('/services/oauth').length && slack.hits('/services/oauth'))
    assert.equal(hit.body.blocks[0].text.text, 'Run finished — r1')

    await page.goto(`${server.url}/ada/vision/runs/r1`)
    await until('the delivery in the log', async () => {
      await page.reload()
      await page.waitForSelector('#run-alerts')
      return page.locator('#run-deliveries tr[data-channel="slack"][data-status="done"]').count()
    })
    assert.match((await page.innerText('#run-deliveries tr[data-channel="slack"]')).replace(/\s+/g, ' '), /Runs finished Slack #ml-alerts Delivered/)
    assert.deepEqual(await axeViolations(page, '#run-alerts'), [])
    await shot(page, 'run-alert-log')
  })

  test('a webhook shows its secret once and signs; a project muted; the minimum set; Slack disconnected', async () => {
    await openAlerts()
    await page.focus('input[name="channel-kind"][value="slack"]')
    await page.keyboard.press('ArrowRight')
    assert.equal(await page.isChecked('input[name="channel-kind"][value="webhook"]'), true)
    await page.fill('#channel-url', 'http://10.0.0.1/hook')
    await page.press('#channel-url', 'Enter')
    assert.equal(await text(page, '#add-channel-error'), 'This URL cannot receive alerts.')

    await page.fill('#channel-url', `${slack.base}/hooks/ada`)
    await page.press('#channel-url', 'Enter')
    await page.waitForSelector('#webhook-secret-dialog[open] #webhook-secret')
    const secret = await page.inputValue('#webhook-secret')
    assert.match(secret, /^whsec_/)
    slack.setSecret(secret)
    assert.deepEqual(await axeViolations(page, '#webhook-secret-dialog'), [])
    await page.focus('#close-webhook-secret')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#webhook-secret-dialog:not([open])', { state: 'attached' })
    assert.equal(await page.locator('#alert-channels tr[data-kind="webhook"]').count(), 1)
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone once the dialog closes')

    await page.fill('#mute-project', 'ada/nothing-here')
    await page.press('#mute-project', 'Enter')
    await page.waitForSelector('#mute-error')
    const made = await gqlWithKey(server, key, UPSERT, { n: 'quiet', e: 'ada', p: 'muted' })
    assert.equal(made.status, 200)
    await page.fill('#mute-project', 'ada/muted')
    await page.press('#mute-project', 'Enter')
    await page.waitForSelector('#muted-projects li')
    assert.match(await text(page, '#muted-projects'), /ada\/muted/)
    await page.fill('#min-run-minutes', '-3')
    await page.press('#min-run-minutes', 'Enter')
    assert.equal(await text(page, '#min-run-error'), 'Enter a whole number of minutes, 0 or more.')
    await page.fill('#min-run-minutes', '0')
    await page.press('#min-run-minutes', 'Enter')
    await page.waitForSelector('#min-run-form .ok')

    await finishRun('ada', 'muted', 'quiet')
    await finishRun('ada', 'vision', 'r2', 1)
    const hooks = await until('the signed webhook', () => slack.hits('/hooks/ada').length && slack.hits('/hooks/ada'))
    await sleep(300)
    assert.equal(hooks[0].body.type, 'run.failed')
    assert.ok(hooks.every((h) => h.signed), 'every request carries a valid signature')
    assert.ok(!slack.hits('/hooks/ada').some((h) => h.body.run?.project === 'muted'), 'the muted project sent nothing')

    assert.deepEqual(await axeViolations(page, '#alerts'), [])
    await shot(page, 'alert-channels')
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, 'alert-channels-phone')
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('#alerts *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}`),
    )
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), `fits a phone: ${wide.slice(0, 8)}`)
    await page.setViewportSize({ width: 1280, height: 900 })

    await page.focus('#alert-channels tr[data-kind="slack"] .disconnect-channel')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#disconnect-channel-dialog[open]')
    await page.focus('#confirm-disconnect')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#disconnect-channel-dialog:not([open])', { state: 'attached' })
    await until('the row to go', async () => (await page.locator('#alert-channels tr[data-kind="slack"]').count()) === 0)
    assert.equal(await page.isDisabled(switchOf('RUN_CRASHED', 'SLACK')), true)
    assert.deepEqual(page.errors, [])
  })

  test('a Slack channel that answers no_service is marked stopped, with the reason', async () => {
    await openAlerts()
    await page.fill('#channel-url', slack.webhook('gone'))
    await page.press('#channel-url', 'Enter')
    await page.waitForSelector('#alert-channels tr[data-kind="slack"], #add-channel-error')
    assert.equal(await page.locator('#add-channel-error').count(), 0, await page.locator('#add-channel-error').textContent().catch(() => ''))
    await finishRun('ada', 'vision', 'r3')
    await until('the channel to be marked', async () => {
      await openAlerts()
      return /Stopped.*no_service/.test(await text(page, '#alert-channels tr[data-kind="slack"] .channel-status'))
    })
    assert.equal(await page.isDisabled(switchOf('RUNS_FINISHED', 'SLACK')), true, 'a stopped channel cannot be switched on')
  })

  test("a team's admins route its alerts on the team page", async () => {
    const made = await gqlWithKey(server, key, 'mutation { createTeam(input: {teamName: "lab"}) { entity { name } } }')
    assert.equal(made.status, 200, JSON.stringify(made.body))
    await openAlerts(page, '/lab#alerts')
    const heads = (await page.locator('#alerts-table thead th').allTextContents()).map((s) => s.trim())
    assert.deepEqual(heads, ['Event', 'Slack', 'Webhook'], 'a team has no Email column')
    assert.match(await text(page, '#alerts .muted'), /this team's projects/)
    await page.fill('#channel-url', slack.webhook('team'))
    await page.press('#channel-url', 'Enter')
    await page.waitForSelector('#alert-channels tr[data-kind="slack"]')
    await finishRun('lab', 'shared', 't1')
    const [hit] = await until('the team channel', () => slack.hits('/services/team').length && slack.hits('/services/team'))
    assert.match(JSON.stringify(hit.body), /lab\/shared/)
    assert.deepEqual(await axeViolations(page, '#alerts'), [])
    await shot(page, 'team-alerts')
  })

  test('in Korean, the channels and routing read in Korean and wrap by words', async () => {
    const { browser: ko, page: p } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await openAlerts(p)
      assert.equal(await text(p, '#alert-channels-title'), '채널')
      assert.equal(await text(p, '#connect-slack'), 'Slack 연결')
      assert.equal(await text(p, '#add-channel'), '채널 추가')
      assert.equal(await text(p, '#alert-projects-title'), '프로젝트')
      assert.equal(await p.$eval('#channel-url-help', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      assert.deepEqual(await axeViolations(p, '#alerts'), [])
      await shot(p, 'alert-channels-ko')
    } finally {
      await ko.close()
    }
  })
})
