// Latent controls: the truncation cutoff and the average image truncation pulls toward (in the
// Settings tab), and the Edit tab's keyframe edits: nudge, randomise in part, reset, in z, w or w+.
// Style mixing, in the same tab, is mixing.js. An edited keyframe keeps the one it came from
// (`origin`) so that Reset brings it back; an edit in w or w+ gives it a w+ latent (`ws`), and the
// walk then interpolates in w.

import { describeKeyframe, keyframe, randomSeed } from "./chain.js";

const $ = (id) => document.getElementById(id);

const el = {
  psiLabel: document.querySelector('label[for="psi"]'),
  spaceZ: $("space-z"),
  cutoffSetting: $("cutoff-setting"),
  cutoff: $("cutoff"),
  cutoffValue: $("cutoff-value"),
  average: $("average-thumb"),
  averageLabel: $("average-label"),
  truncationKind: $("truncation-kind"),
  editSource: $("edit-source"),
  editDestination: $("edit-destination"),
  note: $("edit-note"),
  spaceRadios: [$("edit-space-z"), $("edit-space-w"), $("edit-space-wplus")],
  spaceLabels: { w: $("edit-space-w-label"), "w+": $("edit-space-wplus-label") },
  layers: $("edit-layers"),
  size: $("edit-size"),
  sizeValue: $("edit-size-value"),
  fraction: $("edit-fraction"),
  fractionValue: $("edit-fraction-value"),
  nudge: $("edit-nudge"),
  randomise: $("edit-randomise"),
  reset: $("edit-reset"),
};

const AVERAGE_TIP_W =
  "Truncation pulls every latent toward this average image: w_avg, the mean of the mapped w " +
  "latents (what ψ = 0 shows). ψ 1 leaves latents as they are, ψ below 1 trades variety for typical, " +
  "cleaner images; the cutoff limits the pull to the first layers (coarse structure).";
const AVERAGE_TIP_Z =
  "This model has no mapping network, so truncation is z truncation: ψ scales z toward 0, the mean " +
  "of its Gaussian prior, and this is the image at z = 0 (what ψ = 0 shows).";

/** The keyframe at an end of the last transition. */
export function keyframeAt(state, end) {
  const k = state.chain.keyframes;
  return end === "source" ? k[k.length - 2] : k[k.length - 1];
}

/** A keyframe edited from `kf`: its origin is kept (for Reset) and its label says what was done. */
export function editedKeyframe(kf, { z, ws }, what) {
  const origin = kf.origin ?? kf;
  return keyframe({ z: z ?? kf.z, ws: ws ?? null, seed: null, label: `${describeKeyframe(origin)} · ${what}`, origin });
}

/**
 * Put an edited keyframe in place; a w+ keyframe needs the walk in w, so the space follows.
 * @param ctx {store, actions, dialogs}
 */
export function applyEdited({ store, actions, dialogs }, end, kf) {
  if (kf.ws && store.get().settings.space !== "w") {
    actions.setSettings({ space: "w" });
    dialogs.toast("The walk now interpolates in w: a keyframe holds a w+ latent", "warn");
  }
  actions.replaceEnd(end, kf);
}

export function mountLatentControls({ store, actions, api, dialogs }) {
  const get = store.get;
  store.set({ editEnd: "source" });
  const fail = (error, context) =>
    store.set({ error: { message: `${context}: ${error.message}`, type: error.type ?? error.name ?? "" } });
  const editSpace = () => el.spaceRadios.find((r) => r.checked)?.value ?? "z";

  // ---- truncation: cutoff and the average image ------------------------------------------------------
  el.cutoff.addEventListener("input", () => {
    const m = get().model;
    el.cutoffValue.value = Number(el.cutoff.value) >= (m?.num_ws ?? 0) ? "all" : el.cutoff.value;
  });
  el.cutoff.addEventListener("change", () => {
    const v = Number(el.cutoff.value);
    actions.setSettings({ cutoff: v >= (get().model?.num_ws ?? 0) ? null : v });
  });

  // ---- keyframe edits -----------------------------------------------------------------------------------
  for (const radio of [el.editSource, el.editDestination]) {
    radio.addEventListener("change", () => radio.checked && store.set({ editEnd: radio.value }));
  }
  for (const radio of el.spaceRadios) radio.addEventListener("change", () => update(get(), get()));
  el.size.addEventListener("input", () => (el.sizeValue.value = Number(el.size.value).toFixed(2)));
  el.fraction.addEventListener("input", () => (el.fractionValue.value = `${Math.round(el.fraction.value * 100)}%`));

  async function edit(kind) {
    const state = get();
    const end = state.editEnd;
    const kf = keyframeAt(state, end);
    if (!kf || state.modelStatus !== "ready") return;
    const space = editSpace();
    const body = {
      latent: { z: kf.z, ws: kf.ws },
      space,
      layers: space === "z" ? null : el.layers.value.trim() || null,
      size: Number(el.size.value),
      fraction: Number(el.fraction.value),
      seed: randomSeed(),
    };
    try {
      const answer = await (kind === "nudge" ? api.nudge(body) : api.randomise(body));
      if (keyframeAt(get(), end) !== kf) return; // the keyframe changed meanwhile
      const what = kind === "nudge" ? `nudged in ${space}` : `randomised in ${space}`;
      applyEdited({ store, actions, dialogs }, end, editedKeyframe(kf, answer, what));
      if (get().error) store.set({ error: null });
    } catch (error) {
      fail(error, `could not ${kind === "nudge" ? "nudge" : "randomise"} the ${end}`);
    }
  }
  el.nudge.addEventListener("click", () => edit("nudge"));
  el.randomise.addEventListener("click", () => edit("randomise"));
  el.reset.addEventListener("click", () => {
    const end = get().editEnd;
    const kf = keyframeAt(get(), end);
    if (kf?.origin) actions.replaceEnd(end, kf.origin);
  });

  function update(state, prev) {
    const m = state.model;
    const hasW = Boolean(m?.has_w);
    if (!prev || m !== prev.model) {
      el.cutoffSetting.hidden = !hasW;
      el.psiLabel.textContent = hasW ? "truncation ψ" : "z truncation ψ";
      el.psiLabel.title = hasW
        ? "truncation: 0 gives the average image, 1 the full variety, above 1 the extremes"
        : "z truncation (no mapping network): ψ scales z toward 0; 0 gives the image at z = 0";
      el.truncationKind.textContent = hasW ? "w_avg, the average image" : "z truncation (no mapping network)";
      el.average.title = hasW ? AVERAGE_TIP_W : AVERAGE_TIP_Z;
      el.averageLabel.title = el.average.title;
      if (m) el.average.src = api.averageUrl(m);
      else el.average.removeAttribute("src");
      if (hasW) el.cutoff.max = String(m.num_ws);
      for (const [space, label] of Object.entries(el.spaceLabels)) {
        label.classList.toggle("disabled", !hasW);
        label.querySelector("input").disabled = !hasW;
        label.title = hasW
          ? space === "w"
            ? "one mapped latent w, the same for every layer"
            : "one latent per layer (num_ws rows): edits can keep to a layer range"
          : `${m?.name ?? "this model"} has no mapping network: it has only z`;
      }
      if (!hasW && editSpace() !== "z") el.spaceRadios[0].checked = true;
    }
    if (!prev || state.settings !== prev.settings || m !== prev.model) {
      const c = state.settings.cutoff;
      if (hasW && document.activeElement !== el.cutoff) {
        el.cutoff.value = String(c ?? m.num_ws);
        el.cutoffValue.value = c === null || c === undefined ? "all" : String(c);
      }
    }
    const kf = keyframeAt(state, state.editEnd);
    const hasWs = state.chain.keyframes.some((k) => k.ws);
    el.spaceZ.disabled = hasWs;
    el.spaceZ.closest("label").title = hasWs ? "a keyframe holds a w+ latent: it can only be interpolated in w" : "";
    el.editSource.checked = state.editEnd === "source";
    el.editDestination.checked = state.editEnd === "destination";
    el.note.textContent = kf ? `${describeKeyframe(kf)}${kf.ws ? " (w+)" : ""}` : "";
    el.note.title = el.note.textContent;
    const ready = state.modelStatus === "ready" && Boolean(kf);
    el.layers.disabled = editSpace() === "z";
    const zOfWs = editSpace() === "z" && Boolean(kf?.ws);
    el.nudge.disabled = el.randomise.disabled = !ready || zOfWs;
    el.nudge.title = zOfWs ? "this keyframe holds a w+ latent: edit it in w or w+" : "a small random step";
    el.reset.disabled = !ready || !kf.origin;
  }

  store.subscribe(update);
  update(get(), null);
}
