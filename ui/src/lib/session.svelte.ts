import { gql, rest } from './api'
import { darkModeChoice, loadBeta } from './beta'
import { lang, setLang } from './i18n.svelte'
import { setThemeChoice } from './theme.svelte'

export interface SessionUser {
  username: string
  email: string
  name: string
  admin: boolean
}

export interface Viewer {
  id: string
  username: string
  name: string
  email: string
  photoUrl: string | null
  institution: string
  bio: string
  location: string
  website: string
  intro: string
  introHtml: string
  language: string | null
}

export const session = $state<{
  loaded: boolean
  user: SessionUser | null
  needsSetup: boolean
  viewer: Viewer | null
  /** Why the viewer could not be loaded (pages offer Retry), or null. */
  viewerError: unknown
  /** Whether the server can send mail now (else mailed links wait in its queue). */
  mailConfigured: boolean
}>({ loaded: false, user: null, needsSetup: false, viewer: null, viewerError: null, mailConfigured: true })

export const VIEWER_FIELDS = 'id username name email photoUrl institution bio location website intro introHtml language'

export async function loadSession() {
  // the viewer is asked for at the same time, not after: one round trip before the first
  // paint instead of two (anonymous, it is simply null)
  const viewer = loadViewer()
  try {
    const s = await rest.get('/api/v1/session')
    session.user = s?.user ?? null
    session.needsSetup = !!s?.needsSetup
    session.mailConfigured = s?.mailConfigured !== false
  } catch {
    session.user = null
  }
  await viewer
  if (!session.user) session.viewer = null
  session.loaded = true
  if (session.user) {
    syncLanguage()
    void syncTheme()
  }
}

/** Takes the language stored on the server (chosen on any device, and the mails' language). */
function syncLanguage() {
  const stored = session.viewer?.language
  if ((stored === 'en' || stored === 'ko') && stored !== lang.current) setLang(stored)
}

/** Takes the dark-mode choice stored on the server (made on any device). */
export async function syncTheme() {
  try {
    setThemeChoice(darkModeChoice(await loadBeta()))
  } catch {
    /* the locally saved theme stays */
  }
}

export async function loadViewer() {
  try {
    const data = await gql<{ viewer: Viewer | null }>(`query Viewer { viewer { ${VIEWER_FIELDS} } }`)
    session.viewer = data.viewer
    session.viewerError = null
  } catch (err) {
    session.viewer = null
    session.viewerError = err
  }
}

export async function signedIn(user: SessionUser) {
  session.needsSetup = false
  await loadViewer() // before the user is set, so pages never render with a missing viewer
  session.user = user
  syncLanguage()
  void syncTheme()
}

export function signedOut() {
  session.user = null
  session.viewer = null
}
