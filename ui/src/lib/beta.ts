// Settings → Beta features: the switches of the signed-in person or, for its admins, a
// team. Names and descriptions come from the server's registry in the page's language.
import { gql } from './api'
import { lang } from './i18n.svelte'

export interface BetaFeature {
  key: string
  name: string
  description: string
  enabled: boolean
  /** null until a choice is made (then the default applies; dark mode follows the system). */
  choice: boolean | null
  available: boolean
}

const FIELDS = 'key name(language: $lang) description(language: $lang) enabled choice available'

export async function loadBeta(team?: string): Promise<BetaFeature[]> {
  const data = await gql<{ betaFeatures: BetaFeature[] }>(
    `query($team: String, $lang: String!) { betaFeatures(team: $team) { ${FIELDS} } }`,
    { team: team ?? null, lang: lang.current },
  )
  return data.betaFeatures
}

export async function setBeta(key: string, enabled: boolean | null, team?: string): Promise<BetaFeature[]> {
  const data = await gql<{ updateBetaFeature: BetaFeature[] }>(
    `mutation($key: String!, $enabled: Boolean, $team: String, $lang: String!) {
      updateBetaFeature(input: {key: $key, enabled: $enabled, team: $team}) { ${FIELDS} } }`,
    { key, enabled, team: team ?? null, lang: lang.current },
  )
  return data.updateBetaFeature
}

/** The dark-mode choice stored on the server, or null (none made, or not offered). */
export function darkModeChoice(features: BetaFeature[]): boolean | null {
  const dark = features.find((f) => f.key === 'dark_mode')
  if (!dark) return false // withdrawn by a site admin: the light theme for everyone
  return dark.choice
}
