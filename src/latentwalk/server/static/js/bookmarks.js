// The bookmarks panel: named latents, each usable as the source or the destination.

const $ = (id) => document.getElementById(id);

const el = {
  list: $("bookmark-list"),
  empty: $("bookmarks-empty"),
};

function modelName(b) {
  return typeof b.model === "string" ? b.model : b.model?.name ?? "";
}

export function mountBookmarks({ store, actions }) {
  const thumbs = new Map(); // "name|model sha|settings" -> object URL

  el.list.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-action]");
    const item = event.target.closest("li[data-name]");
    if (!b || !item) return;
    const bookmark = store.get().bookmarks?.find((x) => x.name === item.dataset.name);
    if (!bookmark) return;
    if (b.dataset.action === "delete") actions.deleteBookmark(bookmark);
    else actions.useBookmark(bookmark, b.dataset.action);
  });

  function thumbFor(bookmark, img, state) {
    const s = state.settings;
    const sig = JSON.stringify([bookmark.name, state.model?.sha256, s.psi, s.view_filter, s.space]);
    const have = thumbs.get(sig);
    if (have) {
      img.src = have;
      return;
    }
    actions
      .preview(`bookmark:${bookmark.name}`, bookmark.z)
      .then((blob) => {
        if (!blob) return;
        const url = URL.createObjectURL(blob);
        thumbs.set(sig, url);
        img.src = url;
      })
      .catch(() => img.classList.add("failed"));
  }

  function item(bookmark, state) {
    const fits = state.model && bookmark.z?.length === state.model.z_dim;
    const li = document.createElement("li");
    li.className = "bm-item";
    li.dataset.name = bookmark.name;
    const img = document.createElement("img");
    img.className = "bm-thumb";
    img.alt = "";
    if (fits) thumbFor(bookmark, img, state);
    const text = document.createElement("div");
    text.className = "bm-text";
    const name = document.createElement("span");
    name.className = "bm-name";
    name.textContent = bookmark.name;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = [modelName(bookmark), `z ${bookmark.z_dim ?? bookmark.z?.length}`].filter(Boolean).join(" · ");
    const buttons = document.createElement("div");
    buttons.className = "bm-actions";
    for (const [action, text2, title] of [
      ["source", "As source", "use it as the source of the transition"],
      ["destination", "As destination", "use it as the destination of the transition"],
      ["delete", "Delete", "delete the bookmark (asks first)"],
    ]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "mini";
      b.dataset.action = action;
      b.textContent = text2;
      b.title = action !== "delete" && !fits ? `its z has ${bookmark.z?.length} values; ${state.model?.name} needs ${state.model?.z_dim}` : title;
      b.disabled = action !== "delete" && !fits;
      buttons.append(b);
    }
    text.append(name, meta);
    li.append(img, text, buttons);
    return li;
  }

  function update(state, prev) {
    if (
      !prev || state.bookmarks !== prev.bookmarks || state.model !== prev.model ||
      state.settings.psi !== prev.settings.psi || state.settings.view_filter !== prev.settings.view_filter
    ) {
      const list = state.bookmarks ?? [];
      el.list.replaceChildren(...list.map((b) => item(b, state)));
      el.empty.hidden = state.bookmarks === null || list.length > 0;
    }
  }

  store.subscribe(update);
  update(store.get(), null);
}
