// Settings first load: the time from navigation to the Profile form filled in (the viewer
// known) and to every section's data loaded, cold (empty cache) and warm (reload), in
// Debian's Chromium over an emulated link (20 ms added to every request, 20 Mbit/s) so that round trips
// and bytes count as they would off loopback. Not a test: figures go to BENCHMARKS.md.
//
//   BENCH_BINS="before=/path/to/old/fulcrum,after=target/debug/fulcrum" node bench/first_load.mjs
//
// Binaries are measured in alternating rounds (ROUNDS, default 7); medians are reported.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '../ui/node_modules/playwright-core/index.mjs'

const PASSWORD = 'correct horse battery'
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const LINK = { offline: false, latency: 20, downloadThroughput: (20e6 / 8) | 0, uploadThroughput: (20e6 / 8) | 0 }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function freePort() {
  return new Promise((res) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

async function start(bin) {
  const dataDir = mkdtempSync(join(tmpdir(), 'fulcrum-bench-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const env = { ...process.env, FULCRUM_LOG_LEVEL: 'warn' }
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--public-url', url], { stdio: 'ignore', env })
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/api/v1/session`)).ok) break
    } catch {
      /* not yet */
    }
    await sleep(100)
  }
  const r = spawnSync(bin, ['admin', 'create-user', '--username', 'ada', '--email', 'ada@example.com', '--data-dir', dataDir], { input: `${PASSWORD}\n`, env })
  if (r.status !== 0) throw new Error(String(r.stderr))
  return { url, stop: () => (child.kill('SIGTERM'), rmSync(dataDir, { recursive: true, force: true })) }
}

/** Milliseconds to the Profile form filled, and to no request in flight for 300 ms. */
async function measure(page, url, cdp) {
  let inFlight = 0
  let lastDone = 0
  const onReq = () => inFlight++
  const onDone = () => {
    inFlight--
    lastDone = Date.now()
  }
  page.on('request', onReq)
  page.on('requestfinished', onDone)
  page.on('requestfailed', onDone)
  const t0 = Date.now()
  await page.goto(url, { waitUntil: 'commit' })
  await page.waitForFunction(() => (document.querySelector('#profile-name')?.value ?? '') !== '' || document.querySelector('#profile-name')?.placeholder, null, { polling: 5 })
  const profile = Date.now() - t0
  while (inFlight > 0 || Date.now() - lastDone < 300) await sleep(20)
  const settled = lastDone - t0
  page.off('request', onReq)
  page.off('requestfinished', onDone)
  page.off('requestfailed', onDone)
  void cdp
  return { profile, settled }
}

async function round(bin, results) {
  const server = await start(bin)
  const profileDir = mkdtempSync(join(tmpdir(), 'fulcrum-bench-chromium-'))
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  })
  try {
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    await cdp.send('Network.enable')
    await page.goto(`${server.url}/login`)
    await page.fill('#login-name', 'ada')
    await page.fill('#login-password', PASSWORD)
    await page.click('#login-submit')
    await page.waitForURL(`${server.url}/settings`)
    await cdp.send('Network.clearBrowserCache')
    await cdp.send('Network.emulateNetworkConditions', LINK)
    await page.goto('about:blank')
    const cold = await measure(page, `${server.url}/settings`, cdp)
    await page.goto('about:blank')
    const warm = await measure(page, `${server.url}/settings`, cdp)
    results.push({ cold, warm })
  } finally {
    await context.close()
    rmSync(profileDir, { recursive: true, force: true })
    server.stop()
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const bins = (process.env.BENCH_BINS ?? 'current=target/debug/fulcrum').split(',').map((s) => s.split('='))
const results = Object.fromEntries(bins.map(([name]) => [name, []]))
for (let i = 0; i < ROUNDS; i++) for (const [name, bin] of bins) await round(bin, results[name])
console.log(`Settings first load with 20 ms added to every request and a 20 Mbit/s link; median of ${ROUNDS} rounds (ms)`)
console.log('binary      cold: profile  all loaded   warm: profile  all loaded')
for (const [name] of bins) {
  const r = results[name]
  const col = (f) => String(median(r.map(f))).padStart(8)
  console.log(`${name.padEnd(10)} ${col((x) => x.cold.profile)}   ${col((x) => x.cold.settled)}        ${col((x) => x.warm.profile)}   ${col((x) => x.warm.settled)}`)
}
