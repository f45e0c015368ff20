// Export from the page: the animation as it is set up (chain and settings) to MP4, MOV, a PNG
// sequence (a zip), GIF or WebP, by a job on the server that the page follows until it can be
// downloaded. The server renders with the same code as the explorer: frame N of the file is frame N.

import { apiLatents, apiSettings } from "./chain.js";

const $ = (id) => document.getElementById(id);

const el = {
  form: $("export-form"),
  format: $("export-format"),
  size: $("export-size"),
  button: $("export"),
  job: $("export-job"),
  status: $("export-status"),
  download: $("export-download"),
  cancel: $("export-cancel"),
};

const POLL_MS = 500;

export function mountExports({ store, api, dialogs }) {
  let job = null; // the last job, as the server describes it
  let timer = 0;

  function show() {
    el.button.disabled = job?.state === "running" || store.get().modelStatus !== "ready";
    el.job.hidden = !job;
    if (!job) return;
    el.job.dataset.state = job.state;
    const what = `${job.name} · ${job.format}`;
    el.status.textContent =
      job.state === "running"
        ? `exporting ${job.done} / ${job.total}${job.cluster ? " · on cluster" : ""} · ${what}`
        : job.state === "done"
          ? `ready · ${what}`
          : job.state === "cancelled"
            ? `cancelled · ${what}`
            : `failed: ${job.error ?? "unknown error"}`;
    el.status.title = el.status.textContent;
    el.cancel.hidden = job.state !== "running";
    el.download.hidden = !(job.state === "done" && job.download);
    if (job.download) el.download.href = job.download;
  }

  async function poll() {
    clearTimeout(timer);
    if (!job || job.state !== "running") return;
    try {
      job = await api.exportStatus(job.id);
    } catch (error) {
      job = { ...job, state: "error", error: error.message };
    }
    show();
    if (job.state === "running") timer = setTimeout(poll, POLL_MS);
    else if (job.state === "done") dialogs.toast(`Export ready: ${job.name}.${job.format === "png" ? "zip" : job.format}`);
  }

  el.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const state = store.get();
    if (state.modelStatus !== "ready" || state.chain.keyframes.length < 2) return;
    const size = el.size.value.trim() === "" ? null : Number(el.size.value);
    const body = {
      name: state.animationName ?? "latentwalk",
      settings: apiSettings(state.chain, state.settings),
      latents: apiLatents(state.chain),
      format: el.format.value,
      size,
    };
    el.button.disabled = true;
    try {
      job = await api.startExport(body);
      store.set({ error: null });
    } catch (error) {
      store.set({ error: { message: `could not export: ${error.message}`, type: error.type } });
      job = null;
    }
    show();
    timer = setTimeout(poll, POLL_MS);
  });

  el.cancel.addEventListener("click", async () => {
    if (!job) return;
    try {
      job = await api.cancelExport(job.id);
    } catch (error) {
      store.set({ error: { message: `could not cancel the export: ${error.message}`, type: error.type } });
    }
    show();
    poll();
  });

  store.subscribe((state, prev) => {
    if (state.modelStatus !== prev.modelStatus) show();
  });
  show();
}
