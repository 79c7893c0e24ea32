// The Account security section's calls: password, email, sessions, sudo mode, events.
import { ApiError, fieldErrors, rest } from './api'

export interface SessionRow {
  id: string
  current: boolean
  createdAt: number
  lastSeenAt: number
  signedInAt: number
  ip: string | null
  userAgent: string | null
}

export interface SecurityEvent {
  id: string
  at: number
  action: string
  ip: string | null
  userAgent: string | null
  via: string | null
  during: string | null
}

export async function listSessions(): Promise<SessionRow[]> {
  return (await rest.get('/api/v1/account/sessions')).sessions
}

export async function endSession(id: string): Promise<{ signedOut: boolean }> {
  return rest.del(`/api/v1/account/sessions/${encodeURIComponent(id)}`)
}

export async function endOtherSessions(): Promise<number> {
  return (await rest.post('/api/v1/account/sessions/end-others')).sessionsEnded
}

export async function changePassword(currentPassword: string, newPassword: string): Promise<number> {
  return (await rest.post('/api/v1/account/password', { currentPassword, newPassword })).sessionsEnded
}

/** Whether the link leaves at once (false: it waits until the server can send mail). */
export async function changeEmail(email: string, currentPassword: string): Promise<boolean> {
  return (await rest.post('/api/v1/account/email', { email, currentPassword })).mailConfigured
}

export async function confirmPassword(password: string): Promise<void> {
  await rest.post('/api/v1/account/reauth', { password })
}

export async function securityEvents(): Promise<SecurityEvent[]> {
  return (await rest.get('/api/v1/account/security-events')).events
}

/** "Firefox on Linux" from a user agent, or null when it names neither. */
export function device(ua: string | null): { browser: string | null; os: string | null } {
  if (!ua) return { browser: null, os: null }
  const browsers: [RegExp, string][] = [
    [/Edg\//, 'Edge'],
    [/OPR\//, 'Opera'],
    [/Firefox\//, 'Firefox'],
    [/Chrom(e|ium)\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/^curl\//, 'curl'],
    [/python-requests|wandb/i, 'Python'],
  ]
  const systems: [RegExp, string][] = [
    [/Android/, 'Android'],
    [/iPhone|iPad/, 'iOS'],
    [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux|X11/, 'Linux'],
  ]
  const find = (list: [RegExp, string][]) => list.find(([re]) => re.test(ua))?.[1] ?? null
  return { browser: find(browsers), os: find(systems) }
}

/**
 * A form's field errors and general message, with a wrong or missing current password
 * shown under the form's current-password field (`currentField`): the server names no
 * field for a wrong password, and calls the missing one `currentPassword`.
 */
export function securityFormErrors(err: unknown, currentField: string): { errors: Record<string, string>; general: string | null } {
  const fe = fieldErrors(err)
  const errors: Record<string, string> = { ...fe.fields }
  let general = fe.general
  if (fe.fields.currentPassword) errors[currentField] = fe.fields.currentPassword
  if (general && err instanceof ApiError && err.code === 'password_incorrect') {
    errors[currentField] = general
    general = null
  }
  return { errors, general }
}

export interface DeletionPreview {
  /** Teams with other people where you are the only admin: deletion waits for them. */
  blockingTeams: string[]
  /** Teams where you are the only one: deleted with the account. */
  soleTeams: string[]
  /** You are the server's only site admin: deletion waits for another. */
  lastSiteAdmin: boolean
  purgeDays: number
}

export async function deletionPreview(): Promise<DeletionPreview> {
  return rest.get('/api/v1/account/deletion')
}

export async function deleteAccount(currentPassword: string, username: string): Promise<void> {
  await rest.post('/api/v1/account/deletion', { currentPassword, username })
}

export interface ExportRow {
  id: string
  status: 'pending' | 'ready' | 'failed' | 'expired'
  bytes: number | null
  createdAt: number
  readyAt: number | null
  expiresAt: number | null
}

export async function listExports(): Promise<ExportRow[]> {
  return (await rest.get('/api/v1/account/exports')).exports
}

export async function startExport(): Promise<ExportRow> {
  return (await rest.post('/api/v1/account/exports')).export
}

export function exportHref(id: string): string {
  return `/api/v1/account/exports/${encodeURIComponent(id)}/download`
}
