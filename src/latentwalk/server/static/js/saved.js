// Saved things: the animation library (save, list, load, rename, duplicate, delete, Marrow
// import) and the bookmarks (named latents). Built beside the walk actions, whose model switch,
// chain and render it uses; no DOM here beyond the dialogs.

import { apiLatents, apiSettings, keyframe, transitionLength, withDestination, withSource } from "./chain.js";
import { DEFAULT_SETTINGS } from "./state.js";

const SETTING_NAMES = Object.keys(DEFAULT_SETTINGS);

/**
 * @param ctx {store, api, renderer, playback, dialogs}
 * @param walk {ready, fail, clearError, setChain, switchModel, generate} from actions.js
 */
export function createSavedActions({ store, api, renderer, playback, dialogs }, walk) {
  const get = store.get;
  const { ready, fail, clearError, setChain, switchModel, generate } = walk;

  // ---- bookmarks -------------------------------------------------------------------------------------

  async function refreshBookmarks() {
    try {
      const answer = await api.bookmarks();
      store.set({ bookmarks: answer.bookmarks ?? [] });
    } catch (error) {
      if (error.status === 404) store.set({ bookmarks: [] });
      else fail(error, "could not list the bookmarks");
    }
  }

  async function bookmarkFrame() {
    if (!ready() || !get().render) return;
    const index = get().frame;
    const suggestion = `${get().animationName ?? "frame"} ${index}`;
    const outcome = await dialogs.askName({
      title: "Bookmark this frame",
      message: `Keeps the latent of frame ${index} under a name, to use later as a source or destination.`,
      value: suggestion,
      okText: "Bookmark",
      submit: async (name) => {
        const { z } = await renderer.latentAt(index);
        return api.addBookmark(name, z);
      },
    });
    if (outcome) {
      dialogs.toast(`Bookmarked “${outcome.result?.name ?? outcome.text}”`);
      refreshBookmarks();
    }
  }

  function useBookmark(bookmark, end) {
    const kf = keyframe({ z: bookmark.z, label: `bookmark: ${bookmark.name}` });
    const { chain } = get();
    setChain(end === "source" ? withSource(chain, kf) : withDestination(chain, kf));
  }

  async function deleteBookmark(bookmark) {
    const ok = await dialogs.confirmDialog({
      title: "Delete bookmark",
      message: `Delete the bookmark “${bookmark.name}”?`,
      okText: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.removeBookmark(bookmark.name);
      refreshBookmarks();
    } catch (error) {
      fail(error, "could not delete the bookmark");
    }
  }

  // ---- library -------------------------------------------------------------------------------------

  async function refreshLibrary() {
    try {
      const answer = await api.animations();
      store.set({ library: answer.animations ?? [] });
    } catch (error) {
      fail(error, "could not list the saved animations");
    }
  }

  function payload() {
    const { chain, settings } = get();
    return { settings: apiSettings(chain, settings), latents: apiLatents(chain) };
  }

  function afterSave(entry, verb = "Saved") {
    store.set({ animationName: entry.name });
    dialogs.toast(`${verb} “${entry.name}”`);
    refreshLibrary();
    clearError();
  }

  /** Save under `name`: a new name is created; a clash asks to overwrite, keep both or rename. */
  async function save(name) {
    if (!ready() || get().chain.keyframes.length < 2) return false;
    name = (name ?? "").trim() || get().animationName || "";
    if (!name) {
      const outcome = await dialogs.askName({ title: "Save animation", value: "", okText: "Save" });
      if (!outcome) return false;
      name = outcome.text;
    }
    const { settings, latents } = payload();
    try {
      if (name === get().animationName && get().library?.some((e) => e.name === name)) {
        afterSave(await api.overwrite(name, settings, latents));
        return true;
      }
      afterSave(await api.save(name, settings, latents, "refuse"));
      return true;
    } catch (error) {
      if (error.status !== 409) {
        fail(error, "could not save");
        dialogs.toast(`Save failed: ${error.message}`, "error");
        return false;
      }
    }
    // The name is taken: overwrite it, keep both (the server picks a free name), or pick another.
    const outcome = await dialogs.openDialog({
      title: `“${name}” already exists`,
      message: "Overwrite the saved animation, keep both, or save under another name.",
      input: { label: "name", value: name },
      choices: [
        { text: "Keep both", value: "rename" },
        { text: "Overwrite", value: "overwrite", kind: "danger" },
        { text: "Save", value: "save", kind: "primary" },
      ],
      submit: async (choice, text) => {
        if (choice === "overwrite") return api.overwrite(name, settings, latents);
        if (choice === "rename") return api.save(name, settings, latents, "rename");
        if (!text) throw new Error("a name is needed");
        return api.save(text, settings, latents, "refuse");
      },
    });
    if (!outcome) return false;
    afterSave(outcome.result, outcome.choice === "overwrite" ? "Overwrote" : "Saved");
    return true;
  }

  async function load(name) {
    let anim;
    try {
      anim = await api.animation(name);
    } catch (error) {
      return fail(error, `could not load “${name}”`);
    }
    const m = anim.model ?? {};
    const current = get().model;
    if (m.name && (!current || m.name !== current.name || (m.snapshot ?? null) !== (current.snapshot ?? null))) {
      const switched = await switchModel(m.name, m.snapshot ?? null, { keepView: false });
      if (!switched) return null;
    }
    const model = get().model;
    if (m.sha256 && model.sha256 && m.sha256 !== model.sha256) {
      dialogs.toast(`${model.name} has changed since “${anim.name}” was saved: frames may differ`, "warn");
    }
    const s = anim.settings;
    if (!Array.isArray(anim.latents) || anim.latents.length !== s.keyframes.length) {
      return fail(new Error("its latents do not match its keyframes"), `could not load “${name}”`);
    }
    const keyframes = s.keyframes.map((k, i) =>
      keyframe({ z: anim.latents[i], seed: k.seed ?? null, label: k.label ?? null, ws: k.ws ?? null }),
    );
    const settings = { ...DEFAULT_SETTINGS };
    for (const key of SETTING_NAMES) if (s[key] !== undefined) settings[key] = s[key];
    settings.view_filter = { ...DEFAULT_SETTINGS.view_filter, ...(s.view_filter ?? {}) };
    playback.pause();
    store.set({
      chain: { keyframes, steps: [...s.steps] },
      settings,
      stepsPerTransition: transitionLength(s.steps, settings.loop),
      animationName: anim.name,
      frame: 0,
    });
    generate();
    return anim;
  }

  async function rename(entry) {
    const outcome = await dialogs.askName({
      title: "Rename animation",
      value: entry.name,
      okText: "Rename",
      submit: (text) => (text === entry.name ? Promise.resolve(entry) : api.rename(entry.name, text)),
    });
    if (!outcome) return;
    if (get().animationName === entry.name) store.set({ animationName: outcome.result.name });
    refreshLibrary();
  }

  async function duplicate(entry) {
    try {
      const copy = await api.duplicate(entry.name);
      dialogs.toast(`Duplicated as “${copy.name}”`);
      refreshLibrary();
    } catch (error) {
      fail(error, `could not duplicate “${entry.name}”`);
    }
  }

  async function remove(entry) {
    const ok = await dialogs.confirmDialog({
      title: "Delete animation",
      message: `Delete “${entry.name}” (${entry.frames} frames) from the library? This cannot be undone.`,
      okText: "Delete",
      danger: true,
    });
    if (!ok) return false;
    try {
      await api.remove(entry.name);
      if (get().animationName === entry.name) store.set({ animationName: null });
      dialogs.toast(`Deleted “${entry.name}”`);
      refreshLibrary();
      return true;
    } catch (error) {
      fail(error, `could not delete “${entry.name}”`);
      return false;
    }
  }

  async function importMarrow(readFolders, files) {
    const { payloads, problems } = await readFolders(files);
    const imported = [];
    for (const p of payloads) {
      try {
        imported.push(await api.importMarrow(p));
      } catch (error) {
        problems.push(`${p.name}: ${error.message}`);
      }
    }
    if (imported.length) {
      dialogs.toast(`Imported ${imported.map((e) => `“${e.name}”`).join(", ")}`);
      refreshLibrary();
    }
    if (problems.length) store.set({ error: { message: `Marrow import: ${problems.join("; ")}`, type: "ImportError" } });
    return imported;
  }

  return {
    refreshBookmarks, bookmarkFrame, useBookmark, deleteBookmark,
    refreshLibrary, save, load, rename, duplicate, remove, importMarrow,
  };
}
