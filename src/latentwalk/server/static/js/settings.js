// The settings panel: interpolation, easing, z/w space, truncation, noise, loop mode, class,
// the Shadows view filter with its softness, and the lossless-preview preference.

const $ = (id) => document.getElementById(id);

const el = {
  interpolation: $("interpolation"),
  easing: $("easing"),
  spaceZ: $("space-z"),
  spaceW: $("space-w"),
  spaceWLabel: $("space-w-label"),
  psi: $("psi"),
  psiValue: $("psi-value"),
  noise: $("noise-mode"),
  loop: $("loop-mode"),
  classSetting: $("class-setting"),
  classIdx: $("class-idx"),
  shadows: $("shadows"),
  softness: $("softness"),
  softnessValue: $("softness-value"),
  lossless: $("lossless"),
};

export function mountSettings({ store, actions }) {
  const set = (patch) => actions.setSettings(patch);
  el.interpolation.addEventListener("change", () => set({ interpolation: el.interpolation.value }));
  el.easing.addEventListener("change", () => set({ easing: el.easing.value }));
  for (const radio of [el.spaceZ, el.spaceW]) {
    radio.addEventListener("change", () => radio.checked && set({ space: radio.value }));
  }
  el.psi.addEventListener("input", () => (el.psiValue.value = Number(el.psi.value).toFixed(2)));
  el.psi.addEventListener("change", () => set({ psi: Number(el.psi.value) }));
  el.noise.addEventListener("change", () => set({ noise_mode: el.noise.value }));
  el.loop.addEventListener("change", () => set({ loop: el.loop.value }));
  el.classIdx.addEventListener("change", () => {
    const c = Number(el.classIdx.value);
    if (Number.isInteger(c) && c >= 0) set({ class_idx: c });
  });
  el.shadows.addEventListener("change", () => set({ view_filter: { kind: el.shadows.checked ? "shadows" : "none" } }));
  el.softness.addEventListener("input", () => (el.softnessValue.value = Number(el.softness.value).toFixed(2)));
  el.softness.addEventListener("change", () => set({ view_filter: { softness: Number(el.softness.value) } }));
  el.lossless.addEventListener("change", () => {
    store.set({ format: el.lossless.checked ? "png" : "jpeg" });
    if (store.get().render) actions.generate();
  });

  function update(state, prev) {
    const s = state.settings;
    const m = state.model;
    if (!prev || s !== prev.settings) {
      el.interpolation.value = s.interpolation;
      el.easing.value = s.easing;
      el.spaceZ.checked = s.space === "z";
      el.spaceW.checked = s.space === "w";
      if (document.activeElement !== el.psi) {
        el.psi.value = String(s.psi);
        el.psiValue.value = Number(s.psi).toFixed(2);
      }
      el.noise.value = s.noise_mode;
      el.loop.value = s.loop;
      if (s.class_idx !== null) el.classIdx.value = String(s.class_idx);
      el.shadows.checked = s.view_filter.kind === "shadows";
      if (document.activeElement !== el.softness) {
        el.softness.value = String(s.view_filter.softness);
        el.softnessValue.value = Number(s.view_filter.softness).toFixed(2);
      }
      el.softness.disabled = s.view_filter.kind !== "shadows";
    }
    if (!prev || m !== prev.model) {
      const hasW = Boolean(m?.has_w);
      el.spaceW.disabled = !hasW;
      el.spaceWLabel.title = hasW ? "interpolate in the mapped w space" : `${m?.name ?? "this model"} has no w space`;
      el.spaceWLabel.classList.toggle("disabled", !hasW);
      const hasNoise = Boolean(m?.capabilities?.includes("noise"));
      el.noise.disabled = !hasNoise;
      el.noise.title = hasNoise ? "" : `${m?.name ?? "this model"} has no noise inputs`;
      el.classSetting.hidden = !(m?.c_dim > 0);
      if (m?.c_dim > 0) el.classIdx.max = String(m.c_dim - 1);
      el.psi.title = m?.truncation ? `truncation: ${m.truncation}` : "";
    }
    if (!prev || state.format !== prev.format) el.lossless.checked = state.format === "png";
  }

  store.subscribe(update);
  update(store.get(), null);
}
