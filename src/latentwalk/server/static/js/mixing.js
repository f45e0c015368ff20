// Style mixing in the Edit tab: the keyframe being edited (parent A) takes the coarse, middle or
// fine layers (or any range) from a second latent (parent B: a seed, the other end of the walk, or
// a bookmark). The two parents and the child are shown; "Use the child" puts it in place of the
// keyframe (Reset brings the keyframe back). Models with no w+ have the controls disabled, with
// the reason shown.

import { describeKeyframe, parseSeed, randomSeed } from "./chain.js";
import { applyEdited, editedKeyframe, keyframeAt } from "./latentcontrols.js";

const $ = (id) => document.getElementById(id);

const el = {
  panel: $("edit-panel"),
  tab: $("tab-edit"),
  reason: $("mix-reason"),
  controls: $("mix-controls"),
  from: $("mix-from"),
  seed: $("mix-seed"),
  preset: $("mix-preset"),
  layers: $("mix-layers"),
  family: $("mix-family"),
  imgs: { a: $("mix-a"), b: $("mix-b"), child: $("mix-child") },
  captions: { a: $("mix-a-caption"), b: $("mix-b-caption"), child: $("mix-child-caption") },
  apply: $("mix-apply"),
};

const other = (end) => (end === "source" ? "destination" : "source");

export function mountMixing({ store, actions, api, dialogs }) {
  const get = store.get;
  let groups = null; // {coarse: [first, last], ...} of the current model
  let child = null; // {parent, answer, label} of the child on show
  let asked = 0; // the newest mix asked for (older answers are dropped)
  let timer = 0;
  el.seed.value = String(randomSeed() % 100000);

  const usable = () => Boolean(get().model?.has_w) && get().modelStatus === "ready";
  const visible = () => !el.panel.hidden;

  function layersText() {
    return el.preset.value === "custom" ? el.layers.value.trim() || "all" : el.preset.value;
  }

  /** Parent B as the API's latent, and a caption for it. */
  function secondParent(state) {
    const choice = el.from.value;
    if (choice === "other") {
      const kf = keyframeAt(state, other(state.editEnd));
      return kf ? { latent: { z: kf.z, ws: kf.ws }, caption: describeKeyframe(kf) } : null;
    }
    if (choice.startsWith("bookmark:")) {
      const b = state.bookmarks?.find((x) => `bookmark:${x.name}` === choice);
      return b ? { latent: { z: b.z }, caption: b.name } : null;
    }
    const seed = parseSeed(el.seed.value);
    return seed === null ? null : { latent: { seed }, caption: `seed ${seed}` };
  }

  function show(slot, blob) {
    const img = el.imgs[slot];
    if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
    img.dataset.url = blob ? URL.createObjectURL(blob) : "";
    if (blob) img.src = img.dataset.url;
    else img.removeAttribute("src");
  }

  async function refresh() {
    if (!visible() || !usable()) return;
    const state = get();
    const a = keyframeAt(state, state.editEnd);
    const b = secondParent(state);
    const n = ++asked;
    child = null;
    el.apply.disabled = true;
    el.family.dataset.state = "loading";
    if (!a || !b) {
      el.family.dataset.state = "waiting";
      el.captions.b.textContent = b ? b.caption : "parent B: give a seed";
      return;
    }
    el.captions.a.textContent = el.captions.a.title = describeKeyframe(a);
    el.captions.b.textContent = el.captions.b.title = b.caption;
    el.captions.child.textContent = `child: ${layersText()}`;
    el.layers.removeAttribute("aria-invalid");
    try {
      const answer = await api.mix({ latent: { z: a.z, ws: a.ws }, other: b.latent, layers: layersText() });
      if (n !== asked) return;
      const layers = answer.layers;
      const span = layers.length ? `${layers[0]}-${layers[layers.length - 1]}` : "none";
      el.captions.child.textContent = `${span} of B`;
      el.captions.child.title = `the child: parent A with layers ${span} from parent B`;
      child = { parent: a, answer, label: `${b.caption} ${span}` };
      el.apply.disabled = false;
      const bLatent = b.latent.seed !== undefined ? await seedLatent(b.latent.seed) : b.latent;
      const previews = await Promise.all([
        actions.preview("mix-a", a),
        actions.preview("mix-b", bLatent),
        actions.preview("mix-child", { z: a.z, ws: answer.ws }),
      ]);
      if (n !== asked) return;
      show("a", previews[0]);
      show("b", previews[1]);
      show("child", previews[2]);
      el.family.dataset.state = "shown";
      el.family.dataset.keyframe = String(a.id);
      el.family.dataset.other = b.caption;
      el.family.dataset.layers = layersText();
    } catch (error) {
      if (n !== asked) return;
      el.family.dataset.state = "error";
      if (error.status === 400) el.layers.setAttribute("aria-invalid", "true");
      el.captions.child.textContent = error.message;
      el.captions.child.title = error.message;
    }
  }

  async function seedLatent(seed) {
    const answer = await api.z([seed]);
    return answer.z[0];
  }

  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  };

  el.tab.addEventListener("click", soon);
  el.from.addEventListener("change", () => {
    el.seed.hidden = el.from.value !== "seed";
    soon();
  });
  el.seed.addEventListener("keydown", (event) => event.key === "Enter" && soon());
  el.seed.addEventListener("change", soon);
  el.preset.addEventListener("change", () => {
    el.layers.disabled = el.preset.value !== "custom";
    if (el.preset.value !== "custom" && groups) el.layers.value = groups[el.preset.value].join("-");
    soon();
  });
  el.layers.addEventListener("change", soon);
  el.apply.addEventListener("click", () => {
    const state = get();
    const end = state.editEnd;
    if (!child || keyframeAt(state, end) !== child.parent) return;
    const kf = editedKeyframe(child.parent, { z: child.answer.z, ws: child.answer.ws }, `mixed with ${child.label}`);
    applyEdited({ store, actions, dialogs }, end, kf);
  });

  function fillFrom(state) {
    const keep = el.from.value || "seed";
    const z_dim = state.model?.z_dim;
    const options = [
      ["seed", "a seed"],
      ["other", `the ${other(state.editEnd)}`],
      ...(state.bookmarks ?? []).filter((b) => b.z?.length === z_dim).map((b) => [`bookmark:${b.name}`, `bookmark: ${b.name}`]),
    ];
    el.from.replaceChildren(
      ...options.map(([value, text]) => {
        const o = document.createElement("option");
        o.value = value;
        o.textContent = text;
        return o;
      }),
    );
    el.from.value = options.some(([v]) => v === keep) ? keep : "seed";
    el.seed.hidden = el.from.value !== "seed";
  }

  async function modelChanged(m) {
    groups = null;
    const hasW = Boolean(m?.has_w);
    el.controls.setAttribute("aria-disabled", String(!hasW));
    el.reason.hidden = hasW;
    el.reason.textContent = hasW
      ? ""
      : `Style mixing needs per-layer latents (w+): ${m?.name ?? "this model"} has no mapping network, only z.`;
    for (const control of [el.from, el.seed, el.preset, el.layers, el.apply]) control.disabled = !hasW;
    for (const slot of ["a", "b", "child"]) {
      show(slot, null);
      el.captions[slot].textContent = el.captions[slot].title = "";
    }
    el.family.hidden = !hasW;
    delete el.family.dataset.state;
    if (!hasW) return;
    el.layers.disabled = el.preset.value !== "custom";
    try {
      const answer = await api.layers();
      groups = answer.groups;
      for (const o of el.preset.options) {
        if (groups?.[o.value]) o.title = `layers ${groups[o.value].join("-")}`;
      }
      el.layers.placeholder = `0-${answer.num_ws - 1}`;
      if (el.preset.value !== "custom" && groups) el.layers.value = groups[el.preset.value].join("-");
    } catch {
      // the captions of the presets stay generic
    }
  }

  store.subscribe((state, prev) => {
    if (state.model !== prev.model) modelChanged(state.model).then(soon);
    if (state.bookmarks !== prev.bookmarks || state.editEnd !== prev.editEnd || state.model !== prev.model) fillFrom(state);
    const k = state.chain.keyframes;
    const pk = prev.chain.keyframes;
    const ends = (ks) => `${ks[ks.length - 2]?.id}|${ks[ks.length - 1]?.id}`;
    if (ends(k) !== ends(pk) || state.editEnd !== prev.editEnd || state.settings !== prev.settings) soon();
  });
  fillFrom(get());
  modelChanged(get().model);
}
