// A loopback SMTP sink for the browser tests: it speaks just enough SMTP (no TLS, no auth)
// for the server's mailer, keeps every message, and decodes the MIME text parts so a test can
// read the links (`/invites#token=…`, `/verify-email#token=…`) the way a person would.
import { createServer } from 'node:net'

function decodeQuotedPrintable(s) {
  const bytes = []
  const text = s.replace(/=\r?\n/g, '')
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      for (const b of Buffer.from(text[i], 'utf8')) bytes.push(b)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

function splitHeaders(raw) {
  const at = raw.search(/\r?\n\r?\n/)
  const head = at < 0 ? raw : raw.slice(0, at)
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '')
  const headers = {}
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  return { headers, body }
}

function decodeHeader(value = '') {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, _cs, enc, text) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  )
}

/** The decoded text of every leaf part: [{ type, text }]. */
export function mimeParts(raw) {
  const { headers, body } = splitHeaders(raw)
  const type = (headers['content-type'] ?? 'text/plain').toLowerCase()
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1]
  if (type.startsWith('multipart/') && boundary) {
    const parts = body.split(`--${boundary}`).slice(1)
    return parts.filter((p) => !p.startsWith('--')).flatMap((p) => mimeParts(p.replace(/^\r?\n/, '')))
  }
  const enc = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase()
  let text = body
  if (enc === 'base64') text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
  else if (enc === 'quoted-printable') text = decodeQuotedPrintable(body)
  return [{ type: type.split(';')[0].trim(), text }]
}

export async function startSmtpSink() {
  const messages = []
  const waiters = []
  const sockets = new Set()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.setEncoding('utf8')
    let buffer = ''
    let inData = false
    let data = ''
    let envelope = { from: '', to: [] }
    const reply = (line) => socket.write(`${line}\r\n`)
    reply('220 fulcrum-test-sink ESMTP')
    socket.on('data', (chunk) => {
      buffer += chunk
      for (;;) {
        if (inData) {
          // the message ends with <CRLF>.<CRLF>; `data` starts right after the DATA reply
          data += buffer
          buffer = ''
          const probe = `\r\n${data}`
          const end = probe.indexOf('\r\n.\r\n')
          if (end < 0) return
          buffer = probe.slice(end + 5)
          data = probe.slice(2, Math.max(2, end))
          const raw = data.replace(/\r\n\.\./g, '\r\n.')
          const { headers } = splitHeaders(raw)
          const parts = mimeParts(raw)
          const msg = {
            from: envelope.from,
            to: envelope.to,
            subject: decodeHeader(headers.subject),
            raw,
            parts,
            text: parts.map((p) => p.text).join('\n'),
          }
          messages.push(msg)
          for (const w of waiters.splice(0)) w()
          inData = false
          data = ''
          envelope = { from: '', to: [] }
          reply('250 2.0.0 queued')
          continue
        }
        const nl = buffer.indexOf('\r\n')
        if (nl < 0) return
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 2)
        const cmd = line.slice(0, 4).toUpperCase()
        if (cmd === 'EHLO') socket.write('250-fulcrum-test-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n')
        else if (cmd === 'HELO') reply('250 fulcrum-test-sink')
        else if (cmd === 'MAIL') {
          envelope.from = /<([^>]*)>/.exec(line)?.[1] ?? ''
          reply('250 2.1.0 ok')
        } else if (cmd === 'RCPT') {
          envelope.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '')
          reply('250 2.1.5 ok')
        } else if (cmd === 'DATA') {
          inData = true
          data = ''
          reply('354 end with <CRLF>.<CRLF>')
        } else if (cmd === 'RSET') {
          envelope = { from: '', to: [] }
          reply('250 ok')
        } else if (cmd === 'NOOP') reply('250 ok')
        else if (cmd === 'QUIT') {
          reply('221 bye')
          socket.end()
          return
        } else reply('502 5.5.2 not implemented')
      }
    })
    socket.on('error', () => {})
  })
  await new Promise((res) => server.listen(0, '127.0.0.1', res))
  const { port } = server.address()
  return {
    host: '127.0.0.1',
    port,
    messages,
    /** The server settings that send mail here. */
    env: {
      FULCRUM_SMTP_HOST: '127.0.0.1',
      FULCRUM_SMTP_PORT: String(port),
      FULCRUM_SMTP_TLS: 'none',
      FULCRUM_MAIL_FROM: 'Fulcrum <fulcrum@example.com>',
      FULCRUM_JOB_POLL_MS: '50',
    },
    /** Wait for a message that matches (to address and/or a predicate). */
    async waitFor(match, timeoutMs = 20_000) {
      const test = typeof match === 'function' ? match : (m) => m.to.some((t) => t.toLowerCase() === String(match).toLowerCase())
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = messages.find(test)
        if (found) return found
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no mail matched within ${timeoutMs} ms; got ${messages.length}: ${messages.map((m) => `${m.to} ${m.subject}`).join('; ')}`)
        await new Promise((res) => {
          const t = setTimeout(res, Math.min(left, 250))
          waiters.push(() => {
            clearTimeout(t)
            res()
          })
        })
      }
    },
    close: () =>
      new Promise((res) => {
        for (const s of sockets) s.destroy()
        server.close(() => res())
      }),
  }
}

/** The `#token=…` of the first link to `path` in a message. */
export function linkToken(msg, path) {
  const re = new RegExp(`${path.replace(/[/]/g, '\\/')}#token=([A-Za-z0-9_\\-.~%]+)`)
  const m = re.exec(msg.text)
  return m ? decodeURIComponent(m[1]) : null
}
