// The library panel: name + Save, the saved animations (thumbnail, frames, model) with Load,
// Rename, Duplicate and Delete, and the Marrow folder import.

import { readMarrowFolders } from "./marrow.js";

const $ = (id) => document.getElementById(id);

const el = {
  form: $("save-form"),
  name: $("save-name"),
  save: $("save"),
  list: $("library-list"),
  empty: $("library-empty"),
  marrow: $("marrow-input"),
};

function when(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const d = new Date(t);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { day: "numeric", month: "short" });
}

function button(text, action, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "mini";
  b.textContent = text;
  b.dataset.action = action;
  b.title = title;
  return b;
}

export function mountLibrary({ store, actions, api }) {
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    actions.save(el.name.value);
  });

  el.list.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-action]");
    const item = event.target.closest("li[data-name]");
    if (!item) return;
    const entry = store.get().library?.find((e) => e.name === item.dataset.name);
    if (!entry) return;
    const action = b?.dataset.action ?? (event.target.closest(".lib-thumb") ? "load" : null);
    if (action === "load") actions.load(entry.name);
    else if (action === "rename") actions.rename(entry);
    else if (action === "duplicate") actions.duplicate(entry);
    else if (action === "delete") actions.remove(entry);
  });

  el.marrow.addEventListener("change", async () => {
    const files = [...el.marrow.files];
    el.marrow.value = "";
    if (files.length) await actions.importMarrow(readMarrowFolders, files);
  });

  function item(entry, current) {
    const li = document.createElement("li");
    li.className = "lib-item";
    li.dataset.name = entry.name;
    if (entry.name === current) li.classList.add("current");
    const img = document.createElement("img");
    img.className = "lib-thumb";
    img.alt = "";
    img.loading = "lazy";
    const src = api.thumbUrl(entry);
    if (src) img.src = src;
    else img.classList.add("none");
    img.title = `load “${entry.name}”`;
    const text = document.createElement("div");
    text.className = "lib-text";
    const name = document.createElement("span");
    name.className = "lib-name";
    name.textContent = entry.name;
    const meta = document.createElement("span");
    meta.className = "meta";
    const model = entry.model?.name ? `${entry.model.name}${entry.model.snapshot ? ` @ ${entry.model.snapshot}` : ""}` : "";
    meta.textContent = [`${entry.frames} frames`, entry.fps ? `${entry.fps} fps` : "", model, when(entry.updated)]
      .filter(Boolean)
      .join(" · ");
    const buttons = document.createElement("div");
    buttons.className = "lib-actions";
    buttons.append(
      button("Load", "load", "load it and render its frames"),
      button("Rename", "rename", "give it another name"),
      button("Duplicate", "duplicate", "save a copy"),
      button("Delete", "delete", "delete it (asks first)"),
    );
    text.append(name, meta);
    li.append(img, text, buttons);
    return li;
  }

  function update(state, prev) {
    if (!prev || state.library !== prev.library || state.animationName !== prev.animationName) {
      const entries = state.library ?? [];
      el.list.replaceChildren(...entries.map((e) => item(e, state.animationName)));
      el.empty.hidden = state.library === null || entries.length > 0;
    }
    if (!prev || state.animationName !== prev.animationName) {
      if (state.animationName && document.activeElement !== el.name) el.name.value = state.animationName;
    }
    if (!prev || state.modelStatus !== prev.modelStatus) el.save.disabled = state.modelStatus !== "ready";
  }

  store.subscribe(update);
  update(store.get(), null);
}
