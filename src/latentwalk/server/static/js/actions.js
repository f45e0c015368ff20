// What the user can do with the walk, as functions over the store, the API and the renderer:
// models, keyframes, steps, settings, generating, chaining, the previews of both ends. The saved
// things (library, bookmarks) are in saved.js. No DOM here beyond the dialogs it asks through.

import { takeProjected } from "./handover.js";
import {
  appendKeyframe,
  frameCount,
  keyframe,
  newChain,
  randomSeed,
  segmentStarts,
  withDestination,
  withSource,
  withTransitionLength,
} from "./chain.js";
import { createSavedActions } from "./saved.js";

export function createActions(ctx) {
  const { store, api, renderer, previews, playback, dialogs } = ctx;
  const get = store.get;
  let saved = null; // the library and bookmarks, built at the end with the functions below
  const refreshLibrary = () => saved.refreshLibrary();
  const refreshBookmarks = () => saved.refreshBookmarks();

  /** Show an error in the page (the socket, not a failed fetch, says whether the server is gone). */
  function fail(error, context = "") {
    const message = context ? `${context}: ${error.message}` : error.message;
    store.set({ error: { message, type: error.type ?? error.name ?? "" } });
    return null;
  }

  function clearError() {
    if (get().error) store.set({ error: null });
  }

  const ready = () => get().modelStatus === "ready" && Boolean(get().model);
  const n = () => get().stepsPerTransition;

  async function keyframesForSeeds(seeds) {
    const answer = await api.z(seeds);
    return answer.z.map((z, i) => keyframe({ z, seed: answer.seeds?.[i] ?? seeds[i] }));
  }

  /** A new chain; with `render` it is generated at once (`seek` puts the playhead on a frame). */
  function setChain(chain, { render = false, seek } = {}) {
    store.set({ chain, stale: Boolean(get().render) });
    if (render) generate({ seek });
  }

  // ---- models --------------------------------------------------------------------------------------

  async function refreshModels() {
    try {
      const answer = await api.models();
      store.set({ models: answer.models ?? [], serverModel: answer.current ?? null });
      return answer;
    } catch (error) {
      return fail(error, "could not list the models");
    }
  }

  /** Keyframes that fit `model` (now the server's): seeds give its z; other latents stay if they fit. */
  async function fitKeyframes(model) {
    const { chain } = get();
    if (chain.keyframes.length < 2) {
      const [a, b] = await keyframesForSeeds([randomSeed(), randomSeed()]);
      return newChain(a, b, n(), get().settings.loop);
    }
    const fits = (k) =>
      k.z.length === model.z_dim && (!k.ws || (model.has_w && k.ws.length === model.num_ws && k.ws[0].length === model.w_dim));
    if (chain.keyframes.every(fits)) return chain;
    const unseeded = chain.keyframes.filter((k) => k.seed === null).length;
    const fresh = await keyframesForSeeds(chain.keyframes.map((k) => k.seed ?? randomSeed()));
    if (unseeded) {
      dialogs.toast(
        `${unseeded} keyframe(s) without a seed do not fit ${model.name} (z_dim ${model.z_dim}): replaced by random seeds`,
        "warn",
      );
    }
    const keyframes = fresh.map((k, i) => {
      const old = chain.keyframes[i];
      return old.seed === null ? k : keyframe({ z: k.z, seed: k.seed, label: old.label });
    });
    return { ...chain, keyframes };
  }

  function settingsForModel(model) {
    const s = { ...get().settings };
    if (s.space === "w" && !model.has_w) s.space = "z";
    if (s.cutoff !== null && (!model.has_w || s.cutoff > model.num_ws)) s.cutoff = null;
    if (model.c_dim > 0 && (s.class_idx === null || s.class_idx >= model.c_dim)) s.class_idx = 0;
    if (!model.c_dim) s.class_idx = null;
    return s;
  }

  /** Load another model (or snapshot); the walk on screen is rendered again through it. */
  async function switchModel(name, snapshot = null, { keepView = true } = {}) {
    const before = get();
    if (before.modelStatus === "switching") return false;
    store.set({ modelStatus: "switching", switchingTo: snapshot ? `${name} @ ${snapshot}` : name });
    let model;
    try {
      model = await api.setModel(name, snapshot);
    } catch (error) {
      store.set({
        modelStatus: before.model ? "ready" : "error",
        switchingTo: null,
        modelError: before.model ? null : error.message,
      });
      const still = before.model ? ` (still on ${before.model.name})` : "";
      fail(error, `could not load ${name}${snapshot ? ` @ ${snapshot}` : ""}${still}`);
      return false;
    }
    playback.pause();
    let chain = get().chain;
    try {
      chain = await fitKeyframes(model);
    } catch (error) {
      fail(error, "could not make latents for the new model");
    }
    store.set({
      model, modelStatus: "ready", modelError: null, switchingTo: null, chain,
      settings: settingsForModel(model), render: null, arrived: 0, stale: false,
    });
    clearError();
    refreshModels();
    refreshBookmarks();
    if (before.render && keepView) generate(); // the same walk (same seeds) through the new model
    return true;
  }

  /** Start: models, the current model, the first two keyframes (?source=&destination=&steps=). */
  async function init() {
    const query = new URLSearchParams(location.search);
    const [models, model] = await Promise.all([
      refreshModels(),
      api.model().catch((error) => {
        store.set({ modelStatus: "error", modelError: error.message });
        return null;
      }),
    ]);
    if (!model) return;
    const snapshot = model.snapshot ?? models?.current_snapshot ?? null;
    store.set({ model: { ...model, snapshot }, modelStatus: "ready", modelError: null, settings: settingsForModel(model) });
    const steps = Number(query.get("steps"));
    if (Number.isInteger(steps) && steps >= 1) store.set({ stepsPerTransition: Math.min(steps, 10000) });
    const seeds = ["source", "destination"].map((end) => {
      const s = query.get(end);
      return s !== null && /^\d+$/.test(s) && Number(s) < 2 ** 32 ? Number(s) : randomSeed();
    });
    try {
      const [a, b] = await keyframesForSeeds(seeds);
      const projected = takeProjected(model); // handed over by the In page (js/handover.js)
      if (projected?.ws) store.set({ settings: { ...get().settings, space: "w" } }); // a w+ keyframe walks in w
      store.set({ chain: newChain(projected ? keyframe(projected) : a, b, n(), get().settings.loop) });
    } catch (error) {
      fail(error, "could not make the first latents");
    }
    refreshLibrary();
    refreshBookmarks();
  }

  /** The socket is back: same model? then go on where the render stopped; else start afresh. */
  async function reconnected() {
    if (get().modelStatus === "error" || !get().model) {
      init();
      return;
    }
    let model;
    try {
      model = await api.model();
    } catch (error) {
      fail(error, "the server is back but does not answer");
      return;
    }
    const m = get().model;
    const same =
      model.name === m.name && (model.snapshot ?? null) === (m.snapshot ?? null) && model.sha256 === m.sha256;
    if (same) {
      renderer.resume();
    } else {
      playback.pause();
      let chain = get().chain;
      try {
        chain = await fitKeyframes(model);
      } catch (error) {
        fail(error, "could not make latents for the model");
      }
      store.set({ model, chain, settings: settingsForModel(model), render: null, arrived: 0, stale: false });
      dialogs.toast(`The server is back with ${model.name}`, "warn");
    }
    if (get().error?.type === "NetworkError") store.set({ error: null });
    refreshModels();
    refreshLibrary();
    refreshBookmarks();
  }

  // ---- the walk ------------------------------------------------------------------------------------

  /** Two new random keyframes: a new walk. */
  async function shuffleBoth() {
    if (!ready()) return;
    try {
      const [a, b] = await keyframesForSeeds([randomSeed(), randomSeed()]);
      setChain(newChain(a, b, n(), get().settings.loop));
      store.set({ animationName: null });
      clearError();
    } catch (error) {
      fail(error, "could not shuffle");
    }
  }

  /** A seed for the source or the destination of the last transition. */
  async function setEnd(end, seed) {
    if (!ready()) return;
    try {
      const [kf] = await keyframesForSeeds([seed]);
      const { chain } = get();
      setChain(end === "source" ? withSource(chain, kf) : withDestination(chain, kf));
      clearError();
    } catch (error) {
      fail(error, `could not use seed ${seed}`);
    }
  }

  const shuffleEnd = (end) => setEnd(end, randomSeed());

  function setSteps(value) {
    const steps = Math.round(Number(value));
    if (!Number.isFinite(steps)) return;
    store.set({ stepsPerTransition: steps });
    setChain(withTransitionLength(get().chain, steps, get().settings.loop));
  }

  /** Render the chain with the current settings; `seek` puts the playhead on a frame. */
  function generate({ seek } = {}) {
    if (!ready() || get().chain.keyframes.length < 2) return;
    clearError();
    const before = get().render;
    const render = renderer.start();
    // The same walk under new settings keeps its place; a new walk starts at its first frame.
    const sameWalk = before && before.request.chain.keyframes === render.request.chain.keyframes;
    if (seek !== undefined) playback.seek(seek);
    else if (!sameWalk) playback.seek(0);
    if (get().frame >= render.total) playback.seek(render.total - 1);
  }

  function cancel() {
    renderer.cancel();
  }

  let settingsTimer = 0;
  /** Change animation settings; the animation on screen is rendered again with them. */
  function setSettings(patch) {
    const settings = { ...get().settings, ...patch };
    if (patch.view_filter) settings.view_filter = { ...get().settings.view_filter, ...patch.view_filter };
    let chain = get().chain;
    if (patch.loop && patch.loop !== get().settings.loop) chain = withTransitionLength(chain, n(), patch.loop);
    store.set({ settings, chain });
    clearTimeout(settingsTimer);
    if (get().render) settingsTimer = setTimeout(() => generate(), 120); // a burst of changes renders once
  }

  // ---- chaining --------------------------------------------------------------------------------------

  /** Continue: the destination becomes the source of a new transition to a random keyframe. */
  async function nextFromDestination() {
    if (!ready() || !get().render) return;
    try {
      const [kf] = await keyframesForSeeds([randomSeed()]);
      const { chain, settings } = get();
      const next = appendKeyframe(chain, kf, n(), settings.loop);
      const join = segmentStarts(next.steps)[next.keyframes.length - 2] ?? 0; // the old destination
      setChain(next, { render: true, seek: join });
    } catch (error) {
      fail(error, "could not continue the chain");
    }
  }

  /** Branch: a new walk from the latent of the frame on screen to a random keyframe. */
  async function nextFromFrame() {
    if (!ready() || !get().render) return;
    const index = get().frame;
    try {
      const [{ z, exact }, [dest]] = await Promise.all([renderer.latentAt(index), keyframesForSeeds([randomSeed()])]);
      const name = get().animationName;
      const label = `frame ${index}${name ? ` of ${name}` : ""}${exact ? "" : " (z approx.)"}`;
      store.set({ animationName: null });
      setChain(newChain(keyframe({ z, label }), dest, n(), get().settings.loop), { render: true, seek: 0 });
    } catch (error) {
      fail(error, `could not branch from frame ${index}`);
    }
  }

  /** Another continuation: the last keyframe replaced by a random one (rendered if frames are shown). */
  async function keepSourceShuffleDestination() {
    if (!ready()) return;
    try {
      const [kf] = await keyframesForSeeds([randomSeed()]);
      setChain(withDestination(get().chain, kf), { render: Boolean(get().render) });
    } catch (error) {
      fail(error, "could not shuffle the destination");
    }
  }

  // ---- previews of the two ends ----------------------------------------------------------------------

  /** Ask for the thumbnails of source and destination when they or the pixel settings change. */
  function watchThumbs() {
    const shown = { source: null, destination: null }; // signature of what each thumb shows
    store.subscribe((state) => {
      if (state.modelStatus !== "ready" || !state.model) return;
      const k = state.chain.keyframes;
      if (k.length < 2) return;
      const s = state.settings;
      const pixels = JSON.stringify([
        state.model.name, state.model.sha256, s.psi, s.cutoff, s.noise_mode, s.class_idx, s.view_filter, s.space,
      ]);
      for (const [slot, kf] of [["source", k[k.length - 2]], ["destination", k[k.length - 1]]]) {
        const sig = `${kf.id}|${pixels}`;
        if (shown[slot] === sig) continue;
        shown[slot] = sig;
        previews
          .image(slot, kf, s)
          .then((blob) => {
            if (!blob || shown[slot] !== sig) return;
            const thumbs = { ...get().thumbs };
            if (thumbs[slot]?.url) URL.revokeObjectURL(thumbs[slot].url);
            thumbs[slot] = { url: URL.createObjectURL(blob), kf, sig };
            store.set({ thumbs });
          })
          .catch((error) => {
            if (shown[slot] === sig) shown[slot] = null; // asked again on the next change
            if (get().connection === "online") fail(error, `no preview of the ${slot}`);
          });
      }
    });
  }

  /** A one-off preview of any latent (a z array, or a keyframe with its ws) under the current settings. */
  function preview(slot, latent) {
    return previews.image(slot, latent, get().settings);
  }

  /** Put keyframe `kf` at the source or destination end (rendered again if frames are shown). */
  function replaceEnd(end, kf) {
    const { chain } = get();
    setChain(end === "source" ? withSource(chain, kf) : withDestination(chain, kf), { render: Boolean(get().render) });
  }

  function totalFrames() {
    const r = get().render;
    return r ? r.total : frameCount(get().chain.steps);
  }

  saved = createSavedActions(ctx, { ready, fail, clearError, setChain, switchModel, generate });

  return {
    ...saved,
    init, reconnected, refreshModels, switchModel, shuffleBoth, shuffleEnd, setEnd, setSteps, generate, cancel,
    setSettings, nextFromDestination, nextFromFrame, keepSourceShuffleDestination, watchThumbs, preview, totalFrames,
    replaceEnd,
  };
}
