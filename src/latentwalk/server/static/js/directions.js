// The Directions tab: a slider per named direction of the current model (amount in standard
// deviations), a lock per direction, a layer range for StyleGAN models, reset; PCA, feature and
// classifier fits (dirclassifiers.js) as jobs with progress; and axes taught by example from a grid
// of marked samples. The sliders'
// result is the `directions` entry of the animation settings (docs/explorer-api.md), so it renders,
// saves and exports with the animation.

import { ApiError } from "./api.js";
import { mountClassifiers } from "./dirclassifiers.js";

const $ = (id) => document.getElementById(id);
const GRID = 24; // samples per page of the teaching grid
const MIN_MARKS = 10;

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body instanceof Blob) {
    init.headers["Content-Type"] = "application/octet-stream"; // a file, sent as it is
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`could not reach the server (${error.message})`, { type: "NetworkError", status: 0 });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = data?.error?.message || `the server answered ${response.status}`;
    throw new ApiError(message, { type: data?.error?.type || "Error", status: response.status });
  }
  return data;
}

export function mountDirections({ store, actions, toast = null }) {
  const el = {
    space: $("dir-space"), empty: $("dir-empty"), list: $("dir-list"), ramp: $("dir-ramp"), reset: $("dir-reset"),
    pcaSamples: $("dir-pca-samples"), pca: $("dir-pca"), feature: $("dir-feature"), fitSamples: $("dir-fit-samples"),
    fit: $("dir-fit"), job: $("dir-job"), jobProgress: $("dir-job-progress"), jobText: $("dir-job-text"),
    jobCancel: $("dir-job-cancel"), grid: $("dir-grid"), more: $("dir-more"), marks: $("dir-marks"),
    teachForm: $("dir-teach-form"), teachName: $("dir-teach-name"), teachResult: $("dir-teach-result"),
  };
  // The panel's own view state (no other module reads it).
  let listing = { directions: [], features: [], space: "z", num_ws: null };
  let sliders = {}; // name -> {amount, locked, layers: [start, end] | null}
  let sent = null; // the settings.directions this panel produced last
  let jobId = null;
  let gridStart = Math.floor(Math.random() * 100000);
  const marks = new Map(); // seed -> "yes" | "no"
  let modelKey = null;

  function fail(error, what) {
    const message = `${what}: ${error.message}`;
    if (toast) toast(message);
    el.teachResult.textContent = message;
    el.teachResult.dataset.error = "true";
  }

  // ---------------------------------------------------------------- list and sliders

  async function refresh() {
    try {
      listing = await call("GET", "/api/directions");
    } catch (error) {
      fail(error, "could not list the directions");
      return;
    }
    const known = new Set(listing.directions.map((d) => d.name));
    for (const name of Object.keys(sliders)) if (!known.has(name)) delete sliders[name];
    for (const d of listing.directions) {
      sliders[d.name] ??= { amount: 0, locked: false, layers: d.layers };
    }
    el.space.textContent = listing.space === "w" ? `in w (${listing.num_ws} layers)` : "in z";
    const current = el.feature.value;
    el.feature.replaceChildren(...listing.features.map((f) => new Option(f, f)));
    if (current) el.feature.value = current;
    draw();
  }

  function draw() {
    el.empty.hidden = listing.directions.length > 0;
    el.list.replaceChildren(...listing.directions.map(row));
  }

  function row(d) {
    const s = sliders[d.name];
    const li = document.createElement("li");
    li.className = "dir-item";
    li.dataset.name = d.name;
    const score = d.stats?.accuracy ?? d.stats?.r2 ?? d.stats?.explained;
    const label = document.createElement("span");
    label.className = "dir-name";
    label.textContent = d.name;
    label.title = `${d.method}${score === undefined ? "" : `, ${d.stats.accuracy !== undefined ? "accuracy" : d.stats.r2 !== undefined ? "R²" : "variance share"} ${Number(score).toFixed(3)}`}`;
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: "-3", max: "3", step: "0.1", value: String(s.amount) });
    slider.setAttribute("aria-label", `${d.name} amount`);
    slider.dataset.role = "amount";
    const out = document.createElement("output");
    out.textContent = s.amount.toFixed(1);
    const lock = document.createElement("button");
    lock.type = "button";
    lock.className = "toggle";
    lock.dataset.role = "lock";
    lock.textContent = "lock";
    lock.setAttribute("aria-pressed", String(s.locked));
    lock.title = "locked: moving the other sliders leaves this attribute where it is";
    const del = document.createElement("button");
    del.type = "button";
    del.className = "mini";
    del.dataset.role = "delete";
    del.textContent = "×";
    del.title = `delete ${d.name}`;
    li.append(label, out, lock, del, slider);
    if (listing.space === "w" && listing.num_ws) {
      const layers = document.createElement("div");
      layers.className = "dir-layers";
      const [a, b] = s.layers ?? [0, listing.num_ws];
      layers.innerHTML = `<span class="meta">layers</span>`;
      for (const [role, value] of [["layer-start", a], ["layer-end", b]]) {
        const input = document.createElement("input");
        Object.assign(input, { type: "number", min: "0", max: String(listing.num_ws), step: "1", value: String(value) });
        input.dataset.role = role;
        input.setAttribute("aria-label", `${d.name} ${role.replace("-", " ")}`);
        layers.append(input);
      }
      li.append(layers);
    }
    return li;
  }

  let applyTimer = 0;
  function scheduleApply() {
    clearTimeout(applyTimer);
    applyTimer = setTimeout(apply, 80);
  }

  async function apply() {
    const ramp = el.ramp.checked;
    const entries = Object.entries(sliders)
      .filter(([, s]) => s.amount !== 0 || s.locked)
      .map(([name, s]) => ({
        name,
        amount: ramp ? 0 : s.amount,
        amount_end: ramp ? s.amount : null,
        locked: s.locked,
        layers: listing.space === "w" && s.layers ? s.layers : null,
      }));
    let directions = [];
    try {
      if (entries.length) directions = (await call("POST", "/api/directions/offsets", { entries })).directions;
    } catch (error) {
      fail(error, "could not apply the directions");
      return;
    }
    sent = directions;
    actions.setSettings({ directions });
  }

  el.list.addEventListener("input", (event) => {
    const item = event.target.closest("li[data-name]");
    if (!item) return;
    const s = sliders[item.dataset.name];
    const role = event.target.dataset.role;
    if (role === "amount") {
      s.amount = Number(event.target.value);
      item.querySelector("output").textContent = s.amount.toFixed(1);
      scheduleApply();
    } else if (role === "layer-start" || role === "layer-end") {
      const start = Number(item.querySelector('[data-role="layer-start"]').value);
      const end = Number(item.querySelector('[data-role="layer-end"]').value);
      s.layers = [start, end];
      if (s.amount !== 0) scheduleApply();
    }
  });

  el.list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-role]");
    const item = event.target.closest("li[data-name]");
    if (!button || !item) return;
    const name = item.dataset.name;
    if (button.dataset.role === "lock") {
      sliders[name].locked = !sliders[name].locked;
      button.setAttribute("aria-pressed", String(sliders[name].locked));
      scheduleApply();
    } else if (button.dataset.role === "delete") {
      try {
        listing = await call("DELETE", `/api/directions/${encodeURIComponent(name)}`);
      } catch (error) {
        fail(error, `could not delete ${name}`);
        return;
      }
      delete sliders[name];
      draw();
      scheduleApply();
    }
  });

  el.ramp.addEventListener("change", scheduleApply);
  el.reset.addEventListener("click", () => {
    for (const s of Object.values(sliders)) s.amount = 0;
    draw();
    scheduleApply();
  });

  // ---------------------------------------------------------------- jobs: PCA and feature fits

  async function startJob(body) {
    if (jobId) return;
    let job;
    try {
      job = await call("POST", "/api/directions/jobs", body);
    } catch (error) {
      fail(error, `could not start the ${body.kind === "pca" ? "PCA" : "fit"}`);
      return;
    }
    jobId = job.id;
    el.job.hidden = false;
    el.pca.disabled = el.fit.disabled = true;
    classifiers.setBusy(true);
    follow(job);
  }

  function follow(job) {
    el.jobProgress.max = Math.max(job.total, 1);
    el.jobProgress.value = job.done;
    const what = job.kind === "pca" ? "PCA" : job.classifier ? `fit of ${job.classifier}` : "fit";
    el.jobText.textContent = `${what} ${job.done}/${job.total}`;
    if (job.state === "running") {
      setTimeout(async () => {
        try {
          follow(await call("GET", `/api/directions/jobs/${job.id}`));
        } catch (error) {
          finish();
          fail(error, `${what} failed`);
        }
      }, 300);
      return;
    }
    finish();
    if (job.state === "done") {
      el.teachResult.dataset.error = "false";
      el.teachResult.textContent = `${what} found ${job.names.join(", ")}`;
      refresh();
    } else if (job.state === "error") {
      fail(new Error(job.error), `${what} failed`);
    }
  }

  function finish() {
    jobId = null;
    el.job.hidden = true;
    el.pca.disabled = el.fit.disabled = false;
    classifiers.setBusy(false);
  }

  el.pca.addEventListener("click", () =>
    startJob({ kind: "pca", samples: Number(el.pcaSamples.value) || 20000, components: 32 }),
  );
  el.fit.addEventListener("click", () =>
    startJob({ kind: "fit", samples: Number(el.fitSamples.value) || 2000, features: [el.feature.value] }),
  );
  const classifiers = mountClassifiers({
    call,
    startJob,
    samples: () => Number(el.fitSamples.value) || 2000,
    fail,
    done(message) {
      el.teachResult.dataset.error = "false";
      el.teachResult.textContent = message;
    },
  });
  el.jobCancel.addEventListener("click", () => {
    if (jobId) call("DELETE", `/api/directions/jobs/${jobId}`).catch(() => {});
  });

  // ---------------------------------------------------------------- teach by example

  function drawGrid() {
    const cells = [];
    for (let i = 0; i < GRID; i += 1) {
      const seed = gridStart + i;
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.seed = String(seed);
      b.dataset.mark = marks.get(seed) ?? "none";
      b.title = `seed ${seed}`;
      const img = document.createElement("img");
      img.alt = `seed ${seed}`;
      img.loading = "lazy";
      img.src = `/api/image.png?seed=${seed}&m=${encodeURIComponent(modelKey ?? "")}`;
      b.append(img);
      cells.push(b);
    }
    el.grid.replaceChildren(...cells);
    countMarks();
  }

  function countMarks() {
    let yes = 0;
    let no = 0;
    for (const m of marks.values()) (m === "yes" ? (yes += 1) : (no += 1));
    el.marks.textContent = `${yes} with, ${no} without`;
    return { yes, no };
  }

  el.grid.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-seed]");
    if (!b) return;
    const seed = Number(b.dataset.seed);
    const next = { none: "yes", yes: "no", no: "none" }[b.dataset.mark];
    if (next === "none") marks.delete(seed);
    else marks.set(seed, next);
    b.dataset.mark = next;
    countMarks();
  });

  el.more.addEventListener("click", () => {
    gridStart += GRID;
    drawGrid();
  });

  el.teachForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = el.teachName.value.trim();
    const positive = [...marks].filter(([, m]) => m === "yes").map(([s]) => s);
    const negative = [...marks].filter(([, m]) => m === "no").map(([s]) => s);
    if (!name) {
      fail(new Error("give the quality a name"), "cannot teach");
      return;
    }
    el.teachResult.dataset.error = "false";
    el.teachResult.textContent = `teaching ${name} from ${positive.length} + ${negative.length} marks…`;
    try {
      const d = await call("POST", "/api/directions/teach", { name, positive, negative });
      el.teachResult.textContent = `${d.name}: cross-validated accuracy ${(d.stats.accuracy * 100).toFixed(0)}% from ${d.stats.samples} marks`;
      await refresh();
    } catch (error) {
      fail(error, `could not teach ${name}`);
    }
  });

  // ---------------------------------------------------------------- following the page

  store.subscribe((state, prev) => {
    const key = state.model ? `${state.model.name}|${state.model.sha256 ?? ""}` : null;
    if (key !== modelKey && state.modelStatus === "ready") {
      modelKey = key;
      sliders = {};
      marks.clear();
      refresh();
      classifiers.refresh();
      drawGrid();
      // Directions of another model do not fit this one.
      const dim = state.model.has_w ? state.model.w_dim : state.model.z_dim;
      const ds = state.settings.directions ?? [];
      if (ds.some((d) => d.vector.length !== dim)) actions.setSettings({ directions: [] });
    }
    const ds = state.settings.directions;
    if (ds && ds !== prev.settings.directions && ds !== sent) {
      // Settings came from elsewhere (a loaded animation): show their amounts on the sliders.
      for (const s of Object.values(sliders)) s.amount = 0;
      for (const d of ds) {
        sliders[d.name] ??= { amount: 0, locked: false, layers: d.layers };
        sliders[d.name].amount = d.amount_end ?? d.amount;
      }
      el.ramp.checked = ds.some((d) => d.amount_end !== null && d.amount_end !== undefined);
      sent = ds;
      draw();
    }
  });

  return { refresh };
}
