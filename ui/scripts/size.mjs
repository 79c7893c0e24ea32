// Sums the gzip sizes of the JS and CSS that dist/index.html loads up front
// (the settings page's initial load; the intro editor is a lazy chunk and not counted).
// Usage: node scripts/size.mjs [--limit KB]
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
const html = readFileSync(join(dist, 'index.html'), 'utf8')
const refs = new Set()
for (const m of html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+\.(?:js|css))"/g)) refs.add(m[1])

const gz = (buf) => gzipSync(buf, { level: 9 }).length
const kb = (n) => (n / 1024).toFixed(1).padStart(8) + ' kB'
let raw = 0
let zipped = 0
console.log('initial load (referenced by dist/index.html):')
for (const ref of refs) {
  const buf = readFileSync(join(dist, ref.replace(/^\//, '')))
  raw += buf.length
  zipped += gz(buf)
  console.log(`  ${ref.padEnd(40)} ${kb(buf.length)} raw ${kb(gz(buf))} gzip`)
}
console.log(`  ${'total'.padEnd(40)} ${kb(raw)} raw ${kb(zipped)} gzip`)

let lazy = 0
let lazyRaw = 0
for (const f of readdirSync(join(dist, 'assets'))) {
  if (!/\.(js|css)$/.test(f) || refs.has(`/assets/${f}`)) continue
  const buf = readFileSync(join(dist, 'assets', f))
  lazyRaw += buf.length
  lazy += gz(buf)
}
console.log(`lazy chunks (intro editor): ${kb(lazyRaw)} raw ${kb(lazy)} gzip`)

const i = process.argv.indexOf('--limit')
if (i > 0) {
  const limit = Number(process.argv[i + 1]) * 1024
  if (zipped > limit) {
    console.error(`initial gzip ${kb(zipped)} exceeds the limit of ${kb(limit)}`)
    process.exit(1)
  }
}

