// Saves each answer of a patient form as soon as it changes (PUT one field to the public
// forms API with the manage token). The server validates it; its message appears next to the
// field. Without JavaScript the form still posts as a whole and shows the same messages.
(function () {
  "use strict";
  const form = document.querySelector("form[data-autosave]");
  if (!form) return;
  const api = form.dataset.api;
  const token = form.dataset.token;

  function valueOf(box) {
    const key = box.dataset.key;
    const type = box.dataset.type;
    if (type === "multiple_choice") {
      return Array.from(form.querySelectorAll(`input[name="${key}"]:checked`)).map((i) => i.value);
    }
    if (type === "single_choice" || type === "yes_no") {
      const picked = form.querySelector(`input[name="${key}"]:checked`);
      return picked ? picked.value : null;
    }
    if (type === "consent") {
      const agreed = form.querySelector(`input[name="${key}__agreed"]`).checked;
      const name = form.querySelector(`input[name="${key}__name"]`).value.trim();
      if (agreed !== Boolean(name)) return undefined; // half signed: wait for the other half
      return agreed ? { agreed: true, name } : null;
    }
    const input = form.querySelector(`[name="${key}"]`);
    return input.value.trim() === "" ? null : input.value;
  }

  function show(box, message, ok) {
    const status = document.getElementById(`status-${box.dataset.key}`);
    status.textContent = message;
    status.classList.toggle("field-status-ok", ok);
    box.querySelectorAll("input, textarea").forEach((el) => {
      if (ok) el.removeAttribute("aria-invalid");
      else el.setAttribute("aria-invalid", "true");
    });
  }

  async function save(box) {
    const value = valueOf(box);
    if (value === undefined) return;
    try {
      const response = await fetch(`${api}/${encodeURIComponent(box.dataset.key)}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-Manage-Token": token },
        body: JSON.stringify({ value }),
      });
      if (response.ok) {
        show(box, "Saved", true);
        return;
      }
      const problem = await response.json().catch(() => ({}));
      const mine = (problem.errors || []).find((e) => e.field === box.dataset.key);
      show(box, mine ? mine.message : problem.detail || "Not saved. Please try again.", false);
    } catch (err) {
      show(box, "Not saved: check your connection. Your answer is kept here.", false);
    }
  }

  form.addEventListener("change", (event) => {
    const box = event.target.closest("[data-key]");
    if (box) save(box);
  });
})();
