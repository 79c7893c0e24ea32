// Dark mode (a beta feature): the person's choice follows them to every device because it
// is stored on the server; this module applies it, and follows the system's preference
// until a choice is made. The last choice is kept locally too, so a reload paints in the
// right theme before the server answers.
const STORAGE_KEY = 'fulcrum.theme'

type Choice = boolean | null

const systemDark = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null

const state = $state<{ choice: Choice; system: boolean }>({ choice: readSaved(), system: systemDark?.matches ?? false })

function readSaved(): Choice {
  try {
    const saved = localStorage.getItem(STORAGE_KEY)
    if (saved === 'dark') return true
    if (saved === 'light') return false
  } catch {
    /* storage may be unavailable */
  }
  return null
}

function apply() {
  document.documentElement.dataset.theme = theme.dark ? 'dark' : 'light'
}

/** Whether dark mode is on now (chosen, or the system's). */
export const theme = {
  get dark(): boolean {
    return state.choice ?? state.system
  },
  get choice(): Choice {
    return state.choice
  },
}

/** Uses the person's stored choice (`null`: none, follow the system). */
export function setThemeChoice(choice: Choice) {
  state.choice = choice
  try {
    if (choice === null) localStorage.removeItem(STORAGE_KEY)
    else localStorage.setItem(STORAGE_KEY, choice ? 'dark' : 'light')
  } catch {
    /* ignore */
  }
  apply()
}

/** Applies the saved theme at once and follows the system's changes. */
export function startTheme() {
  apply()
  systemDark?.addEventListener('change', (e) => {
    state.system = e.matches
    apply()
  })
}
