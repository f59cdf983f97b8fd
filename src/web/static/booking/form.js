// The contact form: inline validation (ours and the server's 422 `errors`) and booking.
import { call, problemCode, retryAfter } from "./api.js";
import { _ } from "./i18n.js";

const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const PHONE_RE = /^[0-9+()./ -]{3,40}$/; // as the API checks it
const FIELDS = ["name", "email", "phone", "notes"];

export class DetailsForm {
  constructor({ form, api }) {
    this.form = form;
    this.api = api;
    this.errorBox = form.querySelector("#form-error");
    this.button = form.querySelector("button[type=submit]");
    this.lastPayload = null;
    this.idempotencyKey = null;
    for (const name of FIELDS) {
      // Errors clear as soon as the field is corrected; they are re-checked on blur.
      this.input(name).addEventListener("input", () => {
        if (this.input(name).getAttribute("aria-invalid") === "true") this.checkField(name);
      });
      this.input(name).addEventListener("blur", () => {
        if (this.input(name).value) this.checkField(name);
      });
    }
  }

  input(name) {
    return this.form.elements.namedItem(name);
  }

  values() {
    const v = {};
    for (const name of FIELDS) v[name] = this.input(name).value.trim();
    return v;
  }

  /** Our own rules (the server checks again); returns the message or "". */
  problemWith(name, value) {
    if (name === "name") {
      if (!value) return _("Please enter your name.");
      if (value.length > 200) return _("Please use at most 200 characters.");
    } else if (name === "email") {
      if (!value) return _("Please enter your email address, so we can send the confirmation.");
      if (!EMAIL_RE.test(value)) return _("Please enter an email address like name@example.com.");
    } else if (name === "phone") {
      if (value && !PHONE_RE.test(value)) return _("Please enter a phone number using digits, spaces and +.");
    } else if (name === "notes" && value.length > 4000) {
      return _("Please keep notes under 4000 characters.");
    }
    return "";
  }

  checkField(name) {
    const message = this.problemWith(name, this.values()[name]);
    this.setError(name, message);
    return !message;
  }

  setError(name, message) {
    const input = this.input(name);
    const error = this.form.querySelector(`#${name}-error`);
    error.textContent = message;
    error.hidden = !message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  showFormError(message) {
    this.errorBox.textContent = message;
    this.errorBox.hidden = !message;
    if (message) this.errorBox.focus();
  }

  clearErrors() {
    for (const name of FIELDS) this.setError(name, "");
    this.showFormError("");
  }

  reset() {
    this.form.reset();
    this.clearErrors();
    this.lastPayload = null;
    this.idempotencyKey = null;
  }

  /** Validate; on failure show the messages and focus the first wrong field. */
  validate() {
    let first = null;
    for (const name of FIELDS) {
      if (!this.checkField(name) && !first) first = name;
    }
    if (first) this.input(first).focus();
    return !first;
  }

  /** Map the server's 422 `errors` ([{field, message}]) onto the fields. */
  showServerErrors(errors) {
    let first = null;
    const other = [];
    for (const e of errors || []) {
      const name = String(e.field || "").split(/[.[\]/]/).filter(Boolean).pop();
      if (FIELDS.includes(name)) {
        this.setError(name, e.message);
        first = first || name;
      } else {
        other.push(e.message);
      }
    }
    if (other.length) this.showFormError(other.join(" "));
    else if (first) this.input(first).focus();
    return Boolean(first || other.length);
  }

  /**
   * Book `hold` for the patient in `zone`. The Idempotency-Key is reused when the same
   * submit is retried (same hold and same details), so a retry never books twice.
   * Resolves to {outcome: "booked"|"expired"|"invalid"|"error", body?}.
   */
  async submit(hold, zone) {
    this.clearErrors();
    if (!this.validate()) return { outcome: "invalid" };
    const v = this.values();
    const patient = { name: v.name, email: v.email, timezone: zone };
    if (v.phone) patient.phone = v.phone;
    const payload = { hold_id: hold.hold_id, token: hold.token, patient };
    if (v.notes) payload.notes = v.notes;
    const serialized = JSON.stringify(payload);
    if (serialized !== this.lastPayload || !this.idempotencyKey) {
      this.lastPayload = serialized;
      this.idempotencyKey = crypto.randomUUID();
    }
    this.button.disabled = true;
    this.button.textContent = _("Booking…");
    try {
      const result = await call(`${this.api}/bookings`, {
        method: "POST",
        body: payload,
        headers: { "Idempotency-Key": this.idempotencyKey },
      });
      if (result.status === 201 || result.status === 200) return { outcome: "booked", body: result.body };
      const code = problemCode(result);
      if (result.status === 409 || result.status === 410 || code === "hold_expired") {
        return { outcome: "expired", body: result.body };
      }
      if (result.status === 422 || result.status === 400) {
        const shown = this.showServerErrors(result.body && result.body.errors);
        if (!shown) this.showFormError((result.body && result.body.detail) || _("Please check your details."));
        return { outcome: "invalid" };
      }
      if (result.status === 429) {
        this.showFormError(_("Too many attempts. Please wait {seconds} seconds and press Book again.", { seconds: retryAfter(result) }));
      } else if (result.status === 404) {
        return { outcome: "expired", body: result.body };
      } else {
        this.showFormError(_("We could not reach the clinic. Your details are kept: please press Book appointment again."));
      }
      return { outcome: "error" };
    } finally {
      this.button.disabled = false;
      this.button.textContent = _("Book appointment");
    }
  }
}
