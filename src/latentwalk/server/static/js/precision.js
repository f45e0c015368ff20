// The preview precision setting: fp32 (exact) or bf16 (faster on CPUs with bf16 instructions),
// and a button that measures, on the current model, how much faster and how different it is.
// The precision is a view preference, like lossless frames: not saved with animations, and exports
// always render in fp32.

const $ = (id) => document.getElementById(id);

export function mountPrecision({ store, actions, api }) {
  const select = $("precision");
  const measure = $("precision-measure");
  const result = $("precision-result");
  let chosen = false; // the user's choice wins over the server's default, whichever comes first

  select.addEventListener("change", () => {
    chosen = true;
    store.set({ precision: select.value });
    result.textContent = "";
    if (store.get().render) actions.generate();
  });

  measure.addEventListener("click", async () => {
    const precision = select.value === "fp32" ? "bf16" : select.value;
    measure.disabled = true;
    result.textContent = "measuring…";
    try {
      const r = await api.comparePrecision(precision);
      const psnr = r.psnr === null ? "identical" : `PSNR ${r.psnr} dB`;
      result.textContent =
        `${r.precision} vs fp32 on ${r.model}, one frame: ${r.speedup}× the speed ` +
        `(${r.fp32_ms} → ${r[`${precision}_ms`]} ms); differs by max ${r.max} / mean ${r.mean} grey levels, ${psnr}`;
    } catch (err) {
      result.textContent = `could not measure: ${err.message}`;
    } finally {
      measure.disabled = false;
    }
  });

  api.precision().then(
    (info) => {
      if (info.device === "cpu" && info.bf16_instructions === false) {
        select.querySelector('option[value="bf16"]').textContent = "bf16 (this CPU lacks bf16 instructions: slow)";
      }
      if (!chosen) store.set({ precision: info.default });
    },
    () => {},
  );

  function update(state, prev) {
    if (!prev || state.precision !== prev.precision) select.value = state.precision;
  }
  store.subscribe(update);
  update(store.get(), null);
}
