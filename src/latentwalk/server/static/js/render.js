// Rendering the animation over the socket into the frame cache, and small previews on a second
// socket. No DOM here: progress and results go to the store.
//
// state.render = {id, key, total, request, status, error, ms, width, height}, where request is
// {model, chain, settings, format} as it was when the frames were asked for and status is
// "rendering" | "done" | "cancelling" | "cancelled" | "error" | "interrupted".
// A new render supersedes the one in flight (the server cancels the old id); frames that still
// arrive for an old id are kept under their own key, since their pixels are right for it.

import { apiLatents, apiSettings, frameCount, renderKey, sharedPrefix } from "./chain.js";
import { nextRequestId } from "./socket.js";

export class Renderer {
  constructor({ store, socket, cache }) {
    this.store = store;
    this.socket = socket;
    this.cache = cache;
    this.keys = new Map(); // request id -> cache key of its frames
    socket.addEventListener("frame", (e) => this.#frame(e.detail));
    socket.addEventListener("message", (e) => this.#message(e.detail));
    socket.addEventListener("close", () => this.#interrupted());
  }

  /** The request for the page's current model, chain and settings. */
  requestFromState(state = this.store.get()) {
    const m = state.model;
    return {
      model: { name: m.name, snapshot: m.snapshot ?? null, sha256: m.sha256 ?? null },
      chain: state.chain,
      settings: state.settings,
      format: state.format,
      precision: state.precision,
    };
  }

  /**
   * Show the frames of `request`: frames already cached (or shared with the render on screen)
   * are not asked for again; the rest are rendered from the first missing one.
   */
  start(request = this.requestFromState()) {
    const key = renderKey(request);
    const total = frameCount(request.chain.steps);
    const shown = this.store.get().render;
    if (shown && shown.key !== key) {
      this.cache.alias(shown.key, key, sharedPrefix(shown.request, request));
    }
    const previous = shown?.status === "rendering" ? shown.id : null;
    const id = nextRequestId();
    this.keys.set(id, key);
    const start = this.cache.firstMissing(key, total);
    const render = {
      id,
      key,
      total,
      request,
      status: start >= total ? "done" : "rendering",
      start,
      error: null,
      ms: start >= total ? 0 : null,
      began: performance.now(),
      width: shown?.width ?? null,
      height: shown?.height ?? null,
    };
    this.store.set({ render, arrived: this.cache.count(key), stale: false, error: null });
    if (start < total) {
      this.#send(render);
    } else if (previous !== null) {
      this.socket.send({ type: "cancel", id: previous }); // nothing to render: stop the old one
    }
    return render;
  }

  cancel() {
    const r = this.store.get().render;
    if (!r || r.status !== "rendering") return;
    if (this.socket.send({ type: "cancel", id: r.id })) this.#update({ status: "cancelling" });
    else this.#update({ status: "cancelled" });
  }

  /** The z of frame `index` of the animation on screen: {z, exact}. */
  async latentAt(index) {
    const r = this.store.get().render;
    if (!r) throw new Error("generate an animation first");
    const { chain, settings } = r.request;
    const answer = await this.socket.ask({
      type: "latent",
      id: nextRequestId(),
      settings: apiSettings(chain, settings),
      latents: apiLatents(chain),
      index,
    });
    return { z: answer.z, exact: answer.exact !== false };
  }

  #send(render) {
    const { chain, settings, format, precision } = render.request;
    const sent = this.socket.send({
      type: "render",
      id: render.id,
      settings: apiSettings(chain, settings),
      latents: apiLatents(chain),
      format,
      quality: 90,
      start: render.start,
      end: null,
      precision: precision ?? "fp32",
    });
    if (!sent) this.#update({ status: "interrupted" });
  }

  #current(id) {
    const r = this.store.get().render;
    return r && r.id === id ? r : null;
  }

  #update(patch) {
    const r = this.store.get().render;
    if (r) this.store.set({ render: { ...r, ...patch } });
  }

  #frame({ id, index, width, height, blob }) {
    const key = this.keys.get(id);
    if (!key) return;
    this.cache.put(key, index, blob);
    const r = this.store.get().render;
    if (r && r.key === key) {
      const patch = { arrived: this.cache.count(key) };
      if (r.width !== width || r.height !== height) patch.render = { ...r, width, height };
      this.store.set(patch);
    }
  }

  #message(m) {
    const r = this.#current(m.id);
    if (!r) {
      if (["done", "cancelled", "error"].includes(m.type)) this.keys.delete(m.id);
      return;
    }
    switch (m.type) {
      case "started":
        this.#update({ width: m.width ?? r.width, height: m.height ?? r.height });
        break;
      case "done": {
        const missing = this.cache.firstMissing(r.key, r.total);
        this.#update({
          status: missing >= r.total ? "done" : "error",
          error: missing >= r.total ? null : `the server finished without frame ${missing}`,
          ms: m.ms ?? performance.now() - r.began,
        });
        break;
      }
      case "cancelled":
        this.#update({ status: "cancelled" });
        break;
      case "error":
        this.#update({ status: "error", error: m.error?.message ?? "the render failed" });
        this.store.set({ error: { message: m.error?.message ?? "the render failed", type: m.error?.type ?? "" } });
        break;
      default:
        break; // "progress": the cache count already says how far it got
    }
  }

  #interrupted() {
    const r = this.store.get().render;
    if (r?.status === "rendering" || r?.status === "cancelling") this.#update({ status: "interrupted" });
  }

  /** After a reconnect (to the same model), go on from the first frame that never arrived. */
  resume() {
    const r = this.store.get().render;
    if (r?.status !== "interrupted") return;
    const start = this.cache.firstMissing(r.key, r.total);
    if (start >= r.total) {
      this.#update({ status: "done" });
      return;
    }
    const id = nextRequestId();
    this.keys.set(id, r.key);
    const render = { ...r, id, start, status: "rendering" };
    this.store.set({ render });
    this.#send(render);
  }
}

/**
 * Single images of keyframes (card thumbnails, bookmarks), rendered as one-frame animations on a
 * socket of their own so that they never supersede the animation. One request at a time; a newer
 * request for the same slot replaces an older one still waiting.
 */
export class Previews {
  constructor({ socket }) {
    this.socket = socket;
    this.queue = []; // [{slot, job, resolve, reject}]
    this.running = false;
    this.blobs = new Map(); // request id -> Blob
    socket.addEventListener("frame", (e) => this.blobs.set(e.detail.id, e.detail.blob));
    socket.addEventListener("open", () => this.#pump());
  }

  /**
   * Resolve with a Blob of the image of a latent under `settings` (null when superseded): a z
   * array, or a keyframe-like {z, ws} whose w+ latent `ws` (when set) is rendered in w.
   */
  image(slot, latent, settings, { format = "png" } = {}) {
    const z = Array.isArray(latent) ? latent : latent.z;
    const ws = Array.isArray(latent) ? null : (latent.ws ?? null);
    return new Promise((resolve, reject) => {
      for (const waiting of this.queue.filter((q) => q.slot === slot)) waiting.resolve(null);
      this.queue = this.queue.filter((q) => q.slot !== slot);
      this.queue.push({ slot, z, ws, settings, format, resolve, reject });
      this.#pump();
    });
  }

  async #pump() {
    if (this.running || !this.queue.length || !this.socket.isOpen) return;
    this.running = true;
    const job = this.queue.shift();
    const id = nextRequestId();
    // Both keyframes are the same latent, and linear interpolation at t = 0 is exactly it.
    const kf = job.ws ? { seed: null, label: null, ws: job.ws } : { seed: null, label: null };
    const settings = {
      ...job.settings,
      view_filter: { ...job.settings.view_filter },
      keyframes: [kf, kf],
      steps: [2],
      interpolation: "linear",
      easing: "linear",
      loop: "none",
      space: job.ws ? "w" : job.settings.space,
    };
    try {
      await this.socket.ask({
        type: "render", id, settings, latents: [job.z, job.z], format: job.format, quality: 90, start: 0, end: 1,
      });
      const blob = this.blobs.get(id) ?? null;
      if (!blob) throw new Error("the server sent no image");
      job.resolve(blob);
    } catch (error) {
      job.reject(error);
    } finally {
      this.blobs.delete(id);
      this.running = false;
      this.#pump();
    }
  }
}
