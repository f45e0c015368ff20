// The page's one state store: a plain object replaced on every change, and its listeners.
//
// Views subscribe and redraw only what changed (they compare `state.x !== prev.x`); actions call
// `set` with a patch. Nothing else in the page keeps state that another module reads.

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    /** Shallow-merge a patch (or the patch a function returns for the current state). */
    set(patch) {
      const prev = state;
      const change = typeof patch === "function" ? patch(prev) : patch;
      if (!change) return;
      state = { ...prev, ...change };
      for (const listener of listeners) listener(state, prev);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const DEFAULT_SETTINGS = Object.freeze({
  interpolation: "slerp",
  easing: "linear",
  space: "z",
  psi: 1.0,
  cutoff: null, // truncate only the first `cutoff` ws (StyleGAN); null: all
  noise_mode: "const",
  loop: "none",
  class_idx: null,
  view_filter: Object.freeze({ kind: "none", softness: 0.3 }),
  fps: 12,
  directions: Object.freeze([]), // directions applied to every frame (js/directions.js)
});

export function initialState() {
  return {
    connection: "connecting", // "connecting" | "online" | "offline"
    models: [], // /api/models "models"
    serverModel: null, // /api/models "current": the name to show while no model is loaded
    model: null, // /api/model answer of the current model
    modelStatus: "loading", // "loading" | "switching" | "ready" | "error" (none loaded)
    modelError: null, // message when the current model could not be read or loaded
    switchingTo: null, // name of the model being loaded
    chain: { keyframes: [], steps: [24] }, // keyframes: [{id, z, seed, label}]
    stepsPerTransition: 24,
    settings: { ...DEFAULT_SETTINGS, view_filter: { ...DEFAULT_SETTINGS.view_filter } },
    format: "jpeg", // frames over the socket: "jpeg" | "png" (a view preference, not saved)
    precision: "fp32", // preview precision: "fp32" | "bf16" (a view preference, not saved)
    render: null, // see render.js: {id, key, total, request, status, error, ms, width, height}
    arrived: 0, // frames of render.key in the cache
    stale: false, // the chain or settings changed since the frames on screen were asked for
    frame: 0,
    playing: false,
    repeat: true,
    animationName: null, // the library name of what was loaded or saved last
    library: null, // [entries] once listed
    bookmarks: null,
    thumbs: {}, // keyframe id -> object URL of its preview
    error: null, // {message, type} shown in #error
    busy: null, // a short text while a library action runs
  };
}
