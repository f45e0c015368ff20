// The image in the centre: draws the frame on screen from the frame cache onto a canvas at its
// natural size (CSS scales it, with hard pixel edges when enlarged), and says in the picture what
// is going on when there is no frame: loading a model, no model, nothing generated yet.
//
// The canvas carries data-frame (the index drawn) and data-exact ("true" when that is the frame
// asked for, "false" while a nearby frame stands in for one that has not arrived yet).

const el = {
  viewer: document.getElementById("viewer"),
  canvas: document.getElementById("frame-canvas"),
  overlay: document.getElementById("viewer-overlay"),
  title: document.getElementById("overlay-title"),
  text: document.getElementById("overlay-text"),
  badge: document.getElementById("viewer-badge"),
};

const ctx = el.canvas.getContext("2d", { willReadFrequently: false });

export function mountViewer({ store, cache }) {
  let drawn = { key: null, index: -1 };
  let pending = null; // {key, index} being decoded

  function overlay(state, title, text) {
    el.viewer.dataset.state = state;
    el.title.textContent = title;
    el.text.textContent = text;
  }

  function markUpscaled() {
    const shown = el.canvas.clientWidth * (window.devicePixelRatio || 1);
    el.canvas.toggleAttribute("data-upscaled", el.canvas.width > 0 && el.canvas.width < shown * 0.98);
  }

  function draw(bitmap, key, index, exact) {
    if (el.canvas.width !== bitmap.width || el.canvas.height !== bitmap.height) {
      el.canvas.width = bitmap.width;
      el.canvas.height = bitmap.height;
      markUpscaled();
    }
    ctx.drawImage(bitmap, 0, 0);
    drawn = { key, index };
    el.canvas.dataset.frame = String(index);
    el.canvas.dataset.exact = String(exact);
    el.viewer.dataset.frames = "true";
  }

  function badge(text) {
    el.badge.hidden = !text;
    el.badge.textContent = text ?? "";
  }

  function prefetch(key, index, total) {
    for (let d = 1; d <= 3; d++) {
      const i = (index + d) % total;
      if (cache.has(key, i)) cache.bitmap(key, i);
    }
  }

  function update(state) {
    const r = state.render;
    if (state.modelStatus === "loading") return overlay("loading", "Loading model…", "");
    if (state.modelStatus === "error") {
      return overlay(
        "no-model",
        "No model loaded",
        `${state.modelError ?? "The server has no model."} Put model files (.pkl, .pt, .safetensors) into a models folder or run “latentwalk fetch”, then reload.`,
      );
    }
    if (state.modelStatus === "switching") {
      overlay("switching", `Loading ${state.switchingTo}…`, "Large models take a moment; the page stays usable.");
    } else if (!r) {
      el.viewer.dataset.frames = "false";
      ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
      delete el.canvas.dataset.frame;
      drawn = { key: null, index: -1 };
      badge(null);
      return overlay("empty", "No animation yet", "Pick a source and a destination, then Generate animation (G).");
    }
    if (!r) return undefined;

    const index = state.frame;
    const near = cache.nearest(r.key, index, r.total);
    if (near < 0) {
      if (state.modelStatus === "switching") {
        // the switching overlay stays
      } else if (r.status === "rendering" || r.status === "interrupted") {
        overlay("waiting", "Rendering…", r.status === "rendering" ? "The first frame is on its way." : "Waiting for the server.");
      } else if (r.status === "error") {
        overlay("failed", "The render failed", r.error ?? "");
      } else {
        overlay("empty", "No frames", "The render was stopped before its first frame. Generate again (G).");
      }
      el.canvas.dataset.exact = "false";
      return undefined;
    }
    if (state.modelStatus !== "switching") overlay("frames", "", "");
    const exact = near === index;
    if (!exact) badge(`frame ${index + 1} not rendered yet · showing ${near + 1}`);
    else if (state.stale) badge("settings or keyframes changed · Generate (G) to see them");
    else badge(null);

    if (drawn.key === r.key && drawn.index === near) {
      el.canvas.dataset.exact = String(exact);
      return undefined;
    }
    const bitmap = cache.bitmapNow(r.key, near);
    if (bitmap) {
      draw(bitmap, r.key, near, exact);
    } else if (!pending || pending.key !== r.key || pending.index !== near) {
      const job = { key: r.key, index: near };
      pending = job;
      cache.bitmap(r.key, near).then((b) => {
        if (pending === job) pending = null;
        const now = store.get();
        if (!b || now.render?.key !== job.key) return;
        const nearNow = cache.nearest(job.key, now.frame, now.render.total);
        if (nearNow === job.index) draw(b, job.key, job.index, nearNow === now.frame);
        else if (!pending) update(now);
      });
    }
    if (state.playing) prefetch(r.key, index, r.total);
    return undefined;
  }

  store.subscribe((state, prev) => {
    if (
      state.render !== prev.render || state.frame !== prev.frame || state.arrived !== prev.arrived ||
      state.modelStatus !== prev.modelStatus || state.stale !== prev.stale || state.playing !== prev.playing
    ) {
      update(state);
    }
  });
  window.addEventListener("resize", markUpscaled);
  new ResizeObserver(markUpscaled).observe(el.canvas);
  update(store.get());

  return {
    /** The drawn frame's RGBA pixels (tests and the bookmark preview use the canvas itself). */
    canvas: el.canvas,
  };
}
