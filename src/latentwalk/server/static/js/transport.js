// The transport under the image: frame slider (with how much has arrived), previous / play /
// next, frame number, playback speed and loop, render progress "n / N" with Cancel.

const $ = (id) => document.getElementById(id);

const el = {
  slider: $("frame-slider"),
  buffered: $("buffered"),
  prev: $("prev-frame"),
  play: $("play"),
  next: $("next-frame"),
  frameLabel: $("frame-label"),
  fps: $("fps"),
  slower: $("slower"),
  faster: $("faster"),
  repeat: $("repeat"),
  progressBox: $("progress-box"),
  progress: $("progress"),
  cancel: $("cancel"),
};

function seconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function progressText(r, arrived) {
  if (!r) return "";
  const n = Math.min(arrived, r.total);
  switch (r.status) {
    case "rendering":
      return `${n} / ${r.total}`;
    case "cancelling":
      return `cancelling at ${n} / ${r.total}`;
    case "cancelled":
      return `stopped at ${n} / ${r.total}`;
    case "interrupted":
      return `offline at ${n} / ${r.total}`;
    case "error":
      return `failed at ${n} / ${r.total}`;
    default:
      return `${n} / ${r.total}`;
  }
}

/** The progress with its time, for the status bar. */
export function progressLine(r, arrived) {
  const text = progressText(r, arrived);
  return r?.status === "done" && r.ms ? `${text} frames · ${seconds(r.ms)}` : text;
}

export function mountTransport({ store, playback, actions }) {
  el.slider.addEventListener("input", () => {
    playback.pause();
    playback.seek(Number(el.slider.value));
  });
  el.prev.addEventListener("click", () => {
    playback.pause();
    playback.step(-1);
  });
  el.next.addEventListener("click", () => {
    playback.pause();
    playback.step(1);
  });
  el.play.addEventListener("click", () => playback.toggle());
  el.fps.addEventListener("change", () => {
    playback.setFps(Number(el.fps.value));
    el.fps.value = String(store.get().settings.fps); // shows the clamped value
  });
  el.slower.addEventListener("click", () => playback.slower());
  el.faster.addEventListener("click", () => playback.faster());
  el.repeat.addEventListener("click", () => store.set({ repeat: !store.get().repeat }));
  el.cancel.addEventListener("click", () => actions.cancel());

  function update(state, prev) {
    const r = state.render;
    const total = r?.total ?? 0;
    const has = total > 0;
    for (const b of [el.slider, el.prev, el.play, el.next]) b.disabled = !has;
    if (!prev || state.render !== prev.render || state.frame !== prev.frame) {
      el.slider.max = String(Math.max(total - 1, 0));
      el.slider.value = String(state.frame);
      el.frameLabel.value = has ? `${state.frame + 1} / ${total}` : "– / –";
    }
    if (!prev || state.arrived !== prev.arrived || state.render !== prev.render) {
      const share = has ? Math.min(state.arrived / total, 1) : 0;
      el.buffered.style.transform = `scaleX(${share})`;
      el.progress.textContent = progressText(r, state.arrived);
      el.progress.title = r?.status === "interrupted" ? "the render goes on when the server is back" : "";
      el.progressBox.dataset.status = r?.status ?? "idle";
      el.cancel.hidden = r?.status !== "rendering";
    }
    if (!prev || state.settings.fps !== prev.settings.fps) {
      if (document.activeElement !== el.fps) el.fps.value = String(state.settings.fps);
    }
    if (!prev || state.playing !== prev.playing) {
      el.play.dataset.playing = String(state.playing);
      el.play.setAttribute("aria-label", state.playing ? "pause" : "play");
    }
    if (!prev || state.repeat !== prev.repeat) el.repeat.setAttribute("aria-pressed", String(state.repeat));
  }

  store.subscribe(update);
  update(store.get(), null);
}
