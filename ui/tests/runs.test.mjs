// Project and run pages, in English and Korean, at 1280 px and 390 px, by keyboard, with
// axe-core: the entity page lists projects, the project page lists runs (sortable, with
// summary metrics), the run page shows overview, charts, console and files, and Stop
// reaches the running script through its next file_stream answer.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { admin, axeViolations, createUser, cspViolations, shot, signedIn, startServer } from './helpers.mjs'

const UPSERT = 'mutation($n: String!, $d: String) { upsertBucket(input: {name: $n, modelName: "vision", entityName: "ada", displayName: $d, config: "{\\"lr\\": {\\"value\\": 0.01}}"}) { bucket { id } } }'

async function api(server, key, path, body) {
  const r = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}` },
    body: JSON.stringify(body),
  })
  return { status: r.status, body: await r.json().catch(() => null) }
}

async function seed(server, key) {
  for (const [name, display] of [['done1', 'baseline'], ['live1', 'wider net'], ['bad1', 'too high lr']]) {
    const r = await api(server, key, '/graphql', { query: UPSERT, variables: { n: name, d: display } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const history = Array.from({ length: 60 }, (_, s) => JSON.stringify({ _step: s, loss: 1 / (s + 1), acc: s / 60 }))
    const files = {
      'wandb-history.jsonl': { offset: 0, content: history },
      'wandb-summary.json': { offset: 0, content: [JSON.stringify({ loss: 1 / 60, acc: 59 / 60, _step: 59 })] },
      'output.log': { offset: 0, content: ['2026-12-03T07:00:00Z epoch 1', 'ERROR 2026-12-03T07:00:01Z warning: slow disk'] },
    }
    assert.equal((await api(server, key, `/files/ada/vision/${name}/file_stream`, { files })).status, 200)
  }
  await api(server, key, '/files/ada/vision/done1/file_stream', { complete: true, exitcode: 0 })
  await api(server, key, '/files/ada/vision/bad1/file_stream', { complete: true, exitcode: 1 })
  const created = await api(server, key, '/graphql', {
    query: 'mutation { createRunFiles(input: {entityName: "ada", projectName: "vision", runName: "live1", files: ["notes.txt"]}) { files { uploadUrl } } }',
  })
  const alerted = await api(server, key, '/graphql', {
    query: 'mutation { notifyScriptableRunAlert(input: {entityName: "ada", projectName: "vision", runName: "live1", title: "loss spiked", text: "at step 40", severity: WARN}) { success } }',
  })
  assert.equal(alerted.body.data.notifyScriptableRunAlert.success, true)
  const url = created.body.data.createRunFiles.files[0].uploadUrl
  assert.equal((await fetch(url, { method: 'PUT', body: 'hello from the run\n' })).status, 200)
}

const axe = (page) => axeViolations(page)

async function noSidewaysScroll(page) {
  // let resize observers (the charts) run first
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)
}

describe('Project and run pages', () => {
  let server, browser, page, key

  before(async () => {
    server = await startServer()
    createUser(server, 'ada', { name: 'Ada' })
    key = admin(server, ['create-key', '--username', 'ada', '--name', 'seed'])
    await seed(server, key)
    ;({ browser, page } = await signedIn(server, 'ada'))
  })
  after(async () => {
    await browser?.close()
    server?.stop()
  })

  test('the entity page lists the project and the project page its runs, sortable by keyboard', async () => {
    await page.goto(`${server.url}/ada`)
    await page.waitForSelector('#projects .project-link')
    await page.click('#projects .project-link')
    await page.waitForURL(`${server.url}/ada/vision`)
    await page.waitForSelector('#runs-table tbody tr')
    const names = await page.$$eval('#runs-table tbody tr', (rows) => rows.map((r) => r.dataset.run))
    assert.deepEqual(names, ['bad1', 'live1', 'done1'], 'newest first')
    const headers = await page.$$eval('#runs-table thead th', (ths) => ths.map((t) => t.textContent.trim()))
    assert.ok(headers.includes('loss') && headers.includes('acc'), `summary metrics are columns: ${headers}`)
    const states = await page.$$eval('#runs-table [data-state]', (s) => s.map((e) => e.dataset.state))
    assert.deepEqual(states, ['failed', 'running', 'finished'])
    // Sort by name with the keyboard: the header button takes focus and Enter.
    await page.focus('#runs-table thead th:first-child button')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.querySelector('#runs-table thead th:first-child').getAttribute('aria-sort') === 'descending')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.querySelector('#runs-table tbody tr')?.dataset.run === 'done1')
    assert.deepEqual(await axe(page), [])
    await shot(page, 'runs-project-1280')
    await page.setViewportSize({ width: 390, height: 844 })
    assert.ok(await noSidewaysScroll(page), 'the project page fits a phone')
    await shot(page, 'runs-project-390')
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  test('the run page shows overview, a chart per metric, console, files, and Stop reaches the script', async () => {
    await page.click('#runs-table a.run-link >> text=wider net')
    await page.waitForURL(`${server.url}/ada/vision/runs/live1`)
    await page.waitForSelector('#run-charts canvas')
    assert.equal(await page.textContent('#run-title'), 'wider net')
    const charts = await page.$$eval('.run-chart', (c) => c.map((e) => e.dataset.metric))
    assert.deepEqual(charts, ['acc', 'loss'])
    assert.equal(await page.$$eval('#run-console .stderr', (s) => s.length), 1, 'stderr lines are marked')
    assert.match((await page.textContent('#run-alerts')).replace(/\s+/g, ' '), /WARN loss spiked .* at step 40/)
    const file = await page.$eval('#run-files .file-link', (a) => a.getAttribute('href'))
    assert.equal(file, '/files/ada/vision/live1/notes.txt')
    const download = await page.evaluate(async (href) => (await fetch(href)).text(), file)
    assert.equal(download, 'hello from the run\n', 'the signed-in person downloads with their session')
    assert.deepEqual(await axe(page), [])
    await shot(page, 'runs-run-1280')
    await page.setViewportSize({ width: 390, height: 844 })
    assert.ok(await noSidewaysScroll(page), 'the run page fits a phone')
    await shot(page, 'runs-run-390')
    await page.setViewportSize({ width: 1280, height: 900 })

    await page.click('#run-stop')
    await page.waitForSelector('#run-stop-dialog[open]')
    await page.click('#run-stop-confirm')
    await page.waitForSelector('#run-stop-dialog', { state: 'hidden' })
    const answer = await api(server, key, '/files/ada/vision/live1/file_stream', {})
    assert.deepEqual(answer.body, { stopped: true })
    assert.deepEqual(cspViolations(page), [])
    assert.deepEqual(page.errors, [])
  })

  test('a finished run offers no Stop, and an unknown run says so', async () => {
    await page.goto(`${server.url}/ada/vision/runs/done1`)
    await page.waitForSelector('#run-overview')
    assert.equal(await page.$('#run-stop'), null)
    assert.equal((await page.textContent('#run-exit-code')).trim(), '0')
    await page.goto(`${server.url}/ada/vision/runs/nope`)
    await page.waitForSelector('#run-not-found')
  })

  test('in Korean, the run pages speak Korean and wrap by words', async () => {
    const { browser: ko, page: p } = await signedIn(server, 'ada', { locale: 'ko-KR' })
    try {
      await p.goto(`${server.url}/ada/vision/runs/bad1`)
      await p.waitForSelector('#run-overview')
      assert.equal((await p.textContent('.run-header [data-state]')).trim(), '실패')
      assert.equal((await p.textContent('#run-console-title')).trim(), '콘솔')
      assert.equal(await p.$eval('.run-facts', (e) => getComputedStyle(e).wordBreak), 'keep-all')
      assert.deepEqual(await axe(p), [])
      await shot(p, 'runs-run-ko')
    } finally {
      await ko.close()
    }
  })
})
