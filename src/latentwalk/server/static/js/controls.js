// The walk panel: source and destination cards (seed, thumbnail, shuffle), steps, Generate,
// Shuffle both, and the chain (its keyframes and the actions that extend or branch it).

import { MAX_STEPS, describeKeyframe, frameCount, parseSeed, segmentStarts } from "./chain.js";

const $ = (id) => document.getElementById(id);

const el = {
  steps: $("steps"),
  framesTotal: $("frames-total"),
  generate: $("generate"),
  shuffleBoth: $("shuffle-both"),
  chainList: $("chain-list"),
  chainSummary: $("chain-summary"),
  nextFromDestination: $("next-from-destination"),
  nextFromFrame: $("next-from-frame"),
  keepSource: $("keep-source"),
  bookmarkFrame: $("bookmark-frame"),
};

const ends = ["source", "destination"].map((end) => ({
  end,
  card: $(`${end}-card`),
  seed: $(`${end}-seed`),
  thumb: $(`${end}-thumb`),
  note: $(`${end}-note`),
  shuffle: $(`shuffle-${end}`),
}));

function duration(frames, fps) {
  const s = frames / fps;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function mountControls({ store, actions, playback }) {
  for (const e of ends) {
    e.shuffle.addEventListener("click", () => actions.shuffleEnd(e.end));
    // small models are enlarged with hard pixel edges; large ones shrink smoothly
    e.thumb.addEventListener("load", () => {
      e.thumb.toggleAttribute("data-upscaled", e.thumb.naturalWidth < e.thumb.clientWidth);
    });
    const apply = () => {
      const text = e.seed.value.trim();
      const kf = endKeyframe(store.get(), e.end);
      if (text === "" || (kf && String(kf.seed) === text)) {
        e.seed.removeAttribute("aria-invalid");
        return;
      }
      const seed = parseSeed(text);
      if (seed === null) {
        e.seed.setAttribute("aria-invalid", "true");
        store.set({ error: { message: `“${text}” is not a seed: type a whole number from 0 to 4294967295`, type: "InvalidSeed" } });
        return;
      }
      e.seed.removeAttribute("aria-invalid");
      actions.setEnd(e.end, seed);
    };
    e.seed.addEventListener("change", apply);
    e.seed.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        apply();
      }
    });
  }

  el.steps.addEventListener("change", () => {
    const value = Number(el.steps.value);
    if (!Number.isInteger(value) || value < 1 || value > MAX_STEPS) {
      el.steps.setAttribute("aria-invalid", "true");
      store.set({ error: { message: `steps must be a whole number from 1 to ${MAX_STEPS}`, type: "InvalidSteps" } });
      return;
    }
    el.steps.removeAttribute("aria-invalid");
    actions.setSteps(value);
  });
  el.steps.addEventListener("keydown", (event) => {
    if (event.key === "Enter") el.steps.dispatchEvent(new Event("change"));
  });

  el.generate.addEventListener("click", () => actions.generate());
  el.shuffleBoth.addEventListener("click", () => actions.shuffleBoth());
  el.nextFromDestination.addEventListener("click", () => actions.nextFromDestination());
  el.nextFromFrame.addEventListener("click", () => actions.nextFromFrame());
  el.keepSource.addEventListener("click", () => actions.keepSourceShuffleDestination());
  el.bookmarkFrame.addEventListener("click", () => actions.bookmarkFrame());
  el.chainList.addEventListener("click", (event) => {
    const item = event.target.closest("[data-frame]");
    if (item && store.get().render) {
      playback.pause();
      playback.seek(Number(item.dataset.frame));
    }
  });

  function endKeyframe(state, end) {
    const k = state.chain.keyframes;
    if (k.length < 2) return null;
    return end === "source" ? k[k.length - 2] : k[k.length - 1];
  }

  function updateCards(state) {
    for (const e of ends) {
      const kf = endKeyframe(state, e.end);
      if (document.activeElement !== e.seed) {
        e.seed.value = kf?.seed ?? "";
        e.seed.removeAttribute("aria-invalid");
      }
      e.note.textContent = kf && kf.label ? kf.label : kf && kf.seed === null ? "latent" : "";
      const thumb = state.thumbs[e.end];
      const current = thumb && kf && thumb.kf.id === kf.id;
      e.card.dataset.loading = String(Boolean(kf) && !current);
      if (thumb && thumb.url !== e.thumb.getAttribute("src")) {
        e.thumb.src = thumb.url;
        if (thumb.kf.seed !== null) e.thumb.dataset.seed = String(thumb.kf.seed);
        else delete e.thumb.dataset.seed;
        e.thumb.dataset.keyframe = String(thumb.kf.id);
      }
    }
  }

  function updateChain(state) {
    const { keyframes, steps } = state.chain;
    const starts = segmentStarts(steps);
    const total = frameCount(steps);
    const items = keyframes.map((kf, i) => {
      const li = document.createElement("li");
      li.className = "chain-key";
      const isLastOpen = i === keyframes.length - 1 && state.settings.loop === "none";
      const frame = isLastOpen ? total - 1 : starts[i];
      if (frame !== undefined && frame < total) li.dataset.frame = String(frame);
      const n = document.createElement("span");
      n.className = "chain-index";
      n.textContent = String(i + 1);
      const what = document.createElement("span");
      what.className = "chain-what";
      what.textContent = describeKeyframe(kf);
      li.append(n, what);
      if (i >= keyframes.length - 2) li.classList.add("current");
      li.title = frame !== undefined ? `keyframe ${i + 1} · frame ${frame + 1}` : `keyframe ${i + 1}`;
      return li;
    });
    el.chainList.replaceChildren(...items);
    el.chainList.scrollTop = el.chainList.scrollHeight;
    const transitions = steps.length;
    el.chainSummary.textContent = keyframes.length
      ? `${keyframes.length} keyframes · ${transitions} transition${transitions === 1 ? "" : "s"} · ${total} frames`
      : "no keyframes yet";
  }

  function update(state, prev) {
    const ready = state.modelStatus === "ready";
    const hasFrames = Boolean(state.render);
    if (!prev || state.chain !== prev.chain || state.thumbs !== prev.thumbs || state.settings.loop !== prev.settings.loop) {
      updateCards(state);
      updateChain(state);
    }
    if (!prev || state.stepsPerTransition !== prev.stepsPerTransition) {
      if (document.activeElement !== el.steps) el.steps.value = String(state.stepsPerTransition);
    }
    if (!prev || state.chain !== prev.chain || state.settings.fps !== prev.settings.fps) {
      const total = frameCount(state.chain.steps);
      el.framesTotal.textContent = `${total} frames · ${duration(total, state.settings.fps)}`;
    }
    for (const b of [el.generate, el.shuffleBoth, el.keepSource, ...ends.map((e) => e.shuffle)]) b.disabled = !ready;
    for (const e of ends) e.seed.disabled = !ready;
    el.steps.disabled = !ready;
    for (const b of [el.nextFromDestination, el.nextFromFrame, el.bookmarkFrame]) b.disabled = !ready || !hasFrames;
    el.generate.classList.toggle("attention", ready && (!hasFrames || state.stale));
  }

  store.subscribe(update);
  update(store.get(), null);
}
