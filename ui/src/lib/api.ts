// Same-origin JSON calls to the Fulcrum server. Errors are normalised to ApiError,
// whose `code` is translated by `errorText()`; the server's English message is the fallback.
import { has, t } from './i18n.svelte'

export class ApiError extends Error {
  status: number
  code: string
  field?: string
  constructor(status: number, code: string, message: string, field?: string) {
    super(message)
    this.status = status
    this.code = code
    this.field = field
  }
}

interface ErrorEntry {
  message?: string
  extensions?: { code?: string; field?: string }
}

function fromEntries(status: number, entries: ErrorEntry[] | undefined): ApiError[] {
  if (!entries || entries.length === 0) return [new ApiError(status, 'internal_error', `HTTP ${status}`)]
  return entries.map(
    (e) => new ApiError(status, e.extensions?.code ?? '', e.message ?? `HTTP ${status}`, e.extensions?.field ?? undefined),
  )
}

/** Thrown for a response carrying several errors (for example several invalid fields). */
export class ApiErrors extends ApiError {
  all: ApiError[]
  constructor(all: ApiError[]) {
    super(all[0].status, all[0].code, all[0].message, all[0].field)
    this.all = all
  }
}

let unauthenticatedHandler: (() => void) | null = null
/** Called when the server says the session is gone (expired, or logged out everywhere). */
export function onUnauthenticated(fn: () => void) {
  unauthenticatedHandler = fn
}

async function parse(res: Response): Promise<any> {
  const text = await res.text()
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

async function send(method: string, path: string, body?: BodyInit | object): Promise<any> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } }
  if (body instanceof FormData) {
    init.body = body
  } else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
  } else if (method !== 'GET') {
    init.body = '{}'
    ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
  }
  let res: Response
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'network_error', 'network error')
  }
  const data = await parse(res)
  if (!res.ok) {
    if (res.status === 413 && !data) throw new ApiError(413, 'payload_too_large', 'payload too large')
    const err = new ApiErrors(fromEntries(res.status, data?.errors))
    if (err.code === 'unauthenticated') unauthenticatedHandler?.()
    throw err
  }
  return data
}

export const rest = {
  get: (path: string) => send('GET', path),
  post: (path: string, body?: object | FormData) => send('POST', path, body ?? {}),
  del: (path: string) => send('DELETE', path),
}

export async function gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const data = await send('POST', '/graphql', { query, variables: variables ?? {} })
  if (data?.errors?.length) {
    const err = new ApiErrors(fromEntries(200, data.errors))
    if (err.code === 'unauthenticated') unauthenticatedHandler?.()
    throw err
  }
  return data?.data as T
}

/** The text to show a person for an error: translated by code, else the server's message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code && has(`errors.${err.code}`)) return t(`errors.${err.code}`)
    return err.message || t('errors.internal_error')
  }
  return t('errors.internal_error')
}

/** Collect field errors (field → translated text) and the rest as a general message. */
export function fieldErrors(err: unknown): { fields: Record<string, string>; general: string | null } {
  const fields: Record<string, string> = {}
  let general: string | null = null
  const list = err instanceof ApiErrors ? err.all : [err]
  for (const e of list) {
    if (e instanceof ApiError && e.field) fields[e.field] = errorText(e)
    else general = errorText(e)
  }
  return { fields, general }
}
