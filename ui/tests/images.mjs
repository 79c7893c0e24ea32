// Tiny image builders for the avatar tests: a pure-JS PNG encoder and an EXIF (GPS) inserter
// for JPEG files (the JPEG itself is produced by the browser's canvas).
import { randomBytes } from 'node:crypto'
import { deflateSync } from 'node:zlib'

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

/** An RGBA PNG; `pixel(x, y)` returns [r, g, b, a]. */
export function png(width, height, pixel = (x, y) => [(x * 255) / width, (y * 255) / height, 160, 255]) {
  const raw = Buffer.alloc((width * 4 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0
    for (let x = 0; x < width; x++) {
      const o = y * (width * 4 + 1) + 1 + x * 4
      const [r, g, b, a] = pixel(x, y)
      raw[o] = r
      raw[o + 1] = g
      raw[o + 2] = b
      raw[o + 3] = a
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // RGBA
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** A PNG that is valid but larger than `bytes` (random, incompressible pixels). */
export function bigPng(bytes) {
  const side = Math.ceil(Math.sqrt(bytes / 3)) + 16
  const noise = randomBytes(side * side * 4)
  return png(side, side, (x, y) => {
    const i = (y * side + x) * 4
    return [noise[i], noise[i + 1], noise[i + 2], 255]
  })
}

/**
 * Insert an APP1 Exif segment with GPS coordinates (and a camera model) right after
 * the SOI marker of a JPEG.
 */
export function withExifGps(jpeg) {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG')
  // TIFF, big-endian ("MM")
  const model = Buffer.from('FulcrumTestCam\0', 'ascii')
  // layout: header(8) | IFD0 (2 + 2*12 + 4 = 30) | GPS IFD (2 + 4*12 + 4 = 54) | model | lat rationals(24) | lon rationals(24)
  const ifd0Off = 8
  const gpsOff = ifd0Off + 30
  const modelOff = gpsOff + 54
  const latOff = modelOff + model.length
  const lonOff = latOff + 24
  const total = lonOff + 24
  const b = Buffer.alloc(total)
  b.write('MM', 0, 'ascii')
  b.writeUInt16BE(42, 2)
  b.writeUInt32BE(ifd0Off, 4)
  let o = ifd0Off
  b.writeUInt16BE(2, o)
  o += 2
  const entry = (tag, type, count, value, isOffset = true) => {
    b.writeUInt16BE(tag, o)
    b.writeUInt16BE(type, o + 2)
    b.writeUInt32BE(count, o + 4)
    if (isOffset) b.writeUInt32BE(value, o + 8)
    else value.copy(b, o + 8)
    o += 12
  }
  entry(0x0110, 2, model.length, modelOff) // Model
  entry(0x8825, 4, 1, gpsOff) // GPSInfo IFD pointer
  b.writeUInt32BE(0, o) // no next IFD
  o = gpsOff
  b.writeUInt16BE(4, o)
  o += 2
  entry(0x0001, 2, 2, Buffer.from('N\0\0\0', 'ascii'), false) // GPSLatitudeRef
  entry(0x0002, 5, 3, latOff) // GPSLatitude
  entry(0x0003, 2, 2, Buffer.from('E\0\0\0', 'ascii'), false) // GPSLongitudeRef
  entry(0x0004, 5, 3, lonOff) // GPSLongitude
  b.writeUInt32BE(0, o)
  model.copy(b, modelOff)
  const rationals = (off, [d, m, s]) => {
    b.writeUInt32BE(d, off)
    b.writeUInt32BE(1, off + 4)
    b.writeUInt32BE(m, off + 8)
    b.writeUInt32BE(1, off + 12)
    b.writeUInt32BE(s * 100, off + 16)
    b.writeUInt32BE(100, off + 20)
  }
  rationals(latOff, [37, 33, 59])
  rationals(lonOff, [126, 58, 41])
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'ascii'), b])
  const seg = Buffer.alloc(4)
  seg[0] = 0xff
  seg[1] = 0xe1
  seg.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([jpeg.subarray(0, 2), seg, payload, jpeg.subarray(2)])
}

/** True when the bytes carry EXIF or GPS metadata (a PNG eXIf chunk, a JPEG APP1 Exif segment). */
export function hasExifOrGps(buf) {
  const s = buf.toString('latin1')
  return s.includes('Exif\0') || s.includes('eXIf') || s.includes('FulcrumTestCam') || /GPS/i.test(s.slice(0, 4096))
}

export const isPng = (buf) => buf.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))
