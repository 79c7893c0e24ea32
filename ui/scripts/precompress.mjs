// Writes Brotli (.br) and gzip (.gz) copies of the built text assets next to them, once at
// build time, so the server sends compressed files without compressing per request. A copy
// is kept only when it is smaller than the file.
import { readdirSync, readFileSync, statSync, writeFileSync, unlinkSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const DIST = new URL('../dist/', import.meta.url).pathname
const TEXT = /\.(js|mjs|css|html|svg|json|txt|map)$/
const MIN_BYTES = 1024

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else yield path
  }
}

let raw = 0
let br = 0
let gz = 0
for (const path of files(DIST)) {
  if (!TEXT.test(path)) continue
  const data = readFileSync(path)
  for (const [ext, bytes] of [
    ['.br', brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } })],
    ['.gz', gzipSync(data, { level: 9 })],
  ]) {
    const out = path + ext
    if (data.length >= MIN_BYTES && bytes.length < data.length) {
      writeFileSync(out, bytes)
      if (ext === '.br') br += bytes.length
      else gz += bytes.length
    } else if (existsSync(out)) unlinkSync(out)
  }
  raw += data.length
}
console.log(`precompressed: ${(raw / 1024).toFixed(1)} kB raw, ${(br / 1024).toFixed(1)} kB brotli, ${(gz / 1024).toFixed(1)} kB gzip`)
