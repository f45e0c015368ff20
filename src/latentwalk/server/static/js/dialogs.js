// In-page dialogs (a name to type, a confirmation, a choice) on the one <dialog id="dialog">,
// and short notices ("toasts"). Promise-based; Escape or Cancel resolves with null / false.

const el = {
  dialog: document.getElementById("dialog"),
  title: document.getElementById("dialog-title"),
  message: document.getElementById("dialog-message"),
  field: document.getElementById("dialog-field"),
  label: document.getElementById("dialog-label"),
  input: document.getElementById("dialog-input"),
  error: document.getElementById("dialog-error"),
  buttons: document.getElementById("dialog-buttons"),
  toasts: document.getElementById("toasts"),
};

let current = null; // {finish}

function button(text, { kind = "", value, id }) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (kind) b.className = kind;
  b.dataset.value = value;
  b.id = id;
  return b;
}

/**
 * Open the dialog.
 * @param {object} o
 * @param {string} o.title
 * @param {string} [o.message]
 * @param {{label: string, value: string}} [o.input] a text field
 * @param {{text: string, value: string, kind?: string}[]} o.choices buttons, the last one is the default
 * @param {(choice: string, text: string) => Promise<any>} [o.submit] runs on a choice other than
 *   "cancel"; a throw shows its message in the dialog and keeps it open
 * @returns {Promise<{choice: string, text: string, result: any} | null>}
 */
export function openDialog({ title, message = "", input = null, choices, submit = null }) {
  current?.finish(null);
  el.title.textContent = title;
  el.message.textContent = message;
  el.message.hidden = !message;
  el.field.hidden = !input;
  el.error.hidden = true;
  el.error.textContent = "";
  if (input) {
    el.label.textContent = input.label;
    el.input.value = input.value ?? "";
  }
  el.buttons.replaceChildren(
    button("Cancel", { value: "cancel", id: "dialog-cancel" }),
    ...choices.map((c) => button(c.text, { kind: c.kind ?? "", value: c.value, id: `dialog-${c.value}` })),
  );
  const defaultChoice = choices[choices.length - 1].value;

  return new Promise((resolve) => {
    let busy = false;
    const finish = (outcome) => {
      if (current?.finish !== finish) return;
      current = null;
      el.dialog.removeEventListener("cancel", onCancel);
      el.buttons.removeEventListener("click", onClick);
      el.input.removeEventListener("keydown", onKey);
      if (el.dialog.open) el.dialog.close();
      resolve(outcome);
    };
    const choose = async (choice) => {
      if (busy) return;
      if (choice === "cancel") {
        finish(null);
        return;
      }
      const text = el.input.value.trim();
      if (!submit) {
        finish({ choice, text, result: null });
        return;
      }
      busy = true;
      el.dialog.dataset.busy = "true";
      try {
        const result = await submit(choice, text);
        finish({ choice, text, result });
      } catch (error) {
        el.error.textContent = error.message;
        el.error.hidden = false;
        if (input) el.input.select();
      } finally {
        busy = false;
        delete el.dialog.dataset.busy;
      }
    };
    const onClick = (event) => {
      const b = event.target.closest("button[data-value]");
      if (b) choose(b.dataset.value);
    };
    const onKey = (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        choose(defaultChoice);
      }
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    current = { finish };
    el.dialog.addEventListener("cancel", onCancel);
    el.buttons.addEventListener("click", onClick);
    el.input.addEventListener("keydown", onKey);
    el.dialog.showModal();
    if (input) {
      el.input.focus();
      el.input.select();
    } else {
      el.buttons.lastElementChild.focus();
    }
  });
}

/** A name prompt; `submit(name)` may throw to keep the dialog open with the server's message. */
export async function askName({ title, message = "", label = "name", value = "", okText = "OK", submit }) {
  const outcome = await openDialog({
    title,
    message,
    input: { label, value },
    choices: [{ text: okText, value: "ok", kind: "primary" }],
    submit: submit
      ? async (_choice, text) => {
          if (!text) throw new Error("a name is needed");
          return submit(text);
        }
      : null,
  });
  return outcome;
}

export async function confirmDialog({ title, message, okText = "OK", danger = false }) {
  const outcome = await openDialog({
    title,
    message,
    choices: [{ text: okText, value: "ok", kind: danger ? "danger" : "primary" }],
  });
  return outcome !== null;
}

export function isDialogOpen() {
  return el.dialog.open;
}

/** A short notice in the corner; errors stay longer. */
export function toast(text, kind = "info") {
  const t = document.createElement("div");
  t.className = `toast ${kind}`;
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  t.textContent = text;
  el.toasts.append(t);
  setTimeout(() => t.classList.add("leaving"), kind === "error" ? 6000 : 2600);
  setTimeout(() => t.remove(), kind === "error" ? 6400 : 3000);
}
