// i18next wrapped in a Svelte rune: `t()` reads `lang.current`, so every
// template that calls it re-renders when the language changes.
import i18next from 'i18next'
import en from '../locales/en.json'
import ko from '../locales/ko.json'

export type Lang = 'en' | 'ko'
export const LANGS: { code: Lang; label: string }[] = [
  { code: 'en', label: 'English' },
  { code: 'ko', label: '한국어' },
]
const STORAGE_KEY = 'fulcrum.lang'

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY)
    if (saved === 'en' || saved === 'ko') return saved
  } catch {
    /* storage may be unavailable */
  }
  const browser = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase()
  return browser.startsWith('ko') ? 'ko' : 'en'
}

const state = $state<{ current: Lang }>({ current: initialLang() })

i18next.init({
  lng: state.current,
  fallbackLng: 'en',
  resources: { en: { translation: en }, ko: { translation: ko } },
  interpolation: { escapeValue: false }, // Svelte escapes text itself
  initAsync: false,
  returnNull: false,
})
document.documentElement.lang = state.current

export const lang = {
  get current(): Lang {
    return state.current
  },
}

export function t(key: string, opts?: Record<string, unknown>): string {
  void state.current // dependency for Svelte
  return i18next.t(key, { ...opts, lng: state.current }) as string
}

export function has(key: string): boolean {
  return i18next.exists(key, { lng: state.current })
}

export function setLang(next: Lang) {
  state.current = next
  void i18next.changeLanguage(next)
  document.documentElement.lang = next
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {
    /* ignore */
  }
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return t('common.never')
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return new Intl.DateTimeFormat(state.current === 'ko' ? 'ko-KR' : 'en-US', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(d)
}
