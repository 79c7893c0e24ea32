import { gql, rest } from './api'

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
}

export const session = $state<{
  loaded: boolean
  user: SessionUser | null
  needsSetup: boolean
  viewer: Viewer | null
}>({ loaded: false, user: null, needsSetup: false, viewer: null })

export const VIEWER_FIELDS = 'id username name email photoUrl institution bio location website intro introHtml'

export async function loadSession() {
  try {
    const s = await rest.get('/api/v1/session')
    session.user = s?.user ?? null
    session.needsSetup = !!s?.needsSetup
  } catch {
    session.user = null
  }
  if (session.user) await loadViewer()
  else session.viewer = null
  session.loaded = true
}

export async function loadViewer() {
  try {
    const data = await gql<{ viewer: Viewer | null }>(`query Viewer { viewer { ${VIEWER_FIELDS} } }`)
    session.viewer = data.viewer
  } catch {
    session.viewer = null
  }
}

export async function signedIn(user: SessionUser) {
  session.needsSetup = false
  await loadViewer() // before the user is set, so pages never render with a missing viewer
  session.user = user
}

export function signedOut() {
  session.user = null
  session.viewer = null
}
