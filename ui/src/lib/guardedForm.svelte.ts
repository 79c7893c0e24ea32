// The state of a form that asks for the current password (Account security): busy, field
// errors, a general error and the success message. `submit` runs the change and fills
// them in, so each form holds only its own fields and what it sends.
import { securityFormErrors } from './security'

export class GuardedForm {
  busy = $state(false)
  errors = $state<Record<string, string>>({})
  general = $state<string | null>(null)
  done = $state<string | null>(null)
  /** The form's current-password field, where a wrong password is shown. */
  readonly currentField: string

  constructor(currentField: string) {
    this.currentField = currentField
  }

  /** Shows one field's error without asking the server. */
  refuse(field: string, message: string) {
    this.errors = { [field]: message }
    this.general = null
    this.done = null
  }

  /** Runs `change`, which returns the message to show when it worked. */
  async submit(change: () => Promise<string>) {
    this.errors = {}
    this.general = null
    this.done = null
    this.busy = true
    try {
      this.done = await change()
    } catch (err) {
      const { errors, general } = securityFormErrors(err, this.currentField)
      this.errors = errors
      this.general = general
    } finally {
      this.busy = false
    }
  }
}
