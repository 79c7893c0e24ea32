// Copying a secret shown once (an API key, a webhook's signing secret).

/** Copies `text`; where the Clipboard API is refused (no permission, not a secure origin),
 * selects it in `field` and copies the selection instead. */
export async function copyText(text: string, field: HTMLInputElement | null | undefined): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
  } catch {
    field?.select()
    document.execCommand('copy')
  }
}
