// latentwalk, first page: ask the server for one image per (seed, psi) and show it.
//
// The chain is browser -> GET /api/image.png -> engine -> model -> PNG bytes -> <img>.
// The newest request always wins: starting a render aborts the one in flight.
// <body data-state> is "loading" | "ready" | "error", and the image carries data-seed / data-psi
// of the picture it shows, so tests (and people) can tell when a render has landed.

const NOISE_MODE = "const";

const el = {
  body: document.body,
  form: document.getElementById("controls"),
  seed: document.getElementById("seed"),
  random: document.getElementById("random-seed"),
  psi: document.getElementById("psi"),
  psiValue: document.getElementById("psi-value"),
  image: document.getElementById("image"),
  error: document.getElementById("error"),
  statusModel: document.getElementById("status-model"),
  statusRender: document.getElementById("status-render"),
};

let model = null; // the /api/model answer
let inflight = null; // AbortController of the render in progress
let shownUrl = null; // object URL behind the displayed image

// ---- view helpers -------------------------------------------------------------------------

function setState(state) {
  el.body.dataset.state = state;
}

function showError(message, type = "") {
  el.error.textContent = message;
  el.error.dataset.type = type;
  el.error.hidden = false;
  setState("error");
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = "";
  delete el.error.dataset.type;
}

function formatPsi(psi) {
  const x = Number(psi);
  return psi !== "" && Number.isFinite(x) ? x.toFixed(2) : String(psi);
}

function showPsi(psi) {
  el.psiValue.value = formatPsi(psi);
}

function describeModel(m) {
  const space = m.has_w ? `w ${m.w_dim}` : `z ${m.z_dim}`;
  const classes = m.c_dim ? ` · ${m.c_dim} classes` : "";
  return `${m.name} · ${m.resolution}×${m.resolution} · ${space}${classes}`;
}

// Small images are enlarged with hard pixel edges (CSS keys on data-upscaled).
function markUpscaled() {
  const img = el.image;
  if (!img.naturalWidth) return;
  const shownPx = img.clientWidth * (window.devicePixelRatio || 1);
  img.toggleAttribute("data-upscaled", img.naturalWidth < shownPx);
}

// ---- server ---------------------------------------------------------------------------------

// The server answers errors as {"error": {"type", "message"}}; anything else is reported as-is.
async function readError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: fall through to the status line
  }
  if (body && body.error && typeof body.error.message === "string") {
    return { message: body.error.message, type: body.error.type || "" };
  }
  if (body && body.detail) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ")
      : String(body.detail);
    return { message: detail, type: `HTTP ${response.status}` };
  }
  return { message: `${response.status} ${response.statusText}`.trim(), type: `HTTP ${response.status}` };
}

async function loadModel() {
  const response = await fetch("/api/model", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const err = await readError(response);
    throw Object.assign(new Error(err.message), { type: err.type });
  }
  model = await response.json();
  el.statusModel.textContent = describeModel(model);
  el.statusModel.title = model.truncation ? `truncation: ${model.truncation}` : "";
}

// ---- rendering ------------------------------------------------------------------------------

// seed and psi are sent verbatim: the server validates them and its message is what we show.
async function render(seed = el.seed.value.trim(), psi = el.psi.value) {
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  const { signal } = controller;

  const params = new URLSearchParams({ seed, psi, noise_mode: NOISE_MODE });
  const classIdx = new URLSearchParams(location.search).get("class_idx");
  if (classIdx !== null) params.set("class_idx", classIdx);
  else if (model && model.c_dim > 0) params.set("class_idx", "0");

  setState("loading");
  el.statusRender.textContent = `rendering seed ${seed}…`;
  const started = performance.now();

  try {
    const response = await fetch(`/api/image.png?${params}`, { signal });
    if (!response.ok) {
      const err = await readError(response);
      if (signal.aborted) return;
      el.statusRender.textContent = "";
      showError(err.message, err.type);
      return;
    }
    const serverMs = Number.parseFloat(response.headers.get("X-Render-Ms") ?? ""); // optional header
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    el.image.src = url;
    try {
      await el.image.decode();
    } catch (decodeError) {
      URL.revokeObjectURL(url);
      if (signal.aborted) return; // a newer render replaced the source mid-decode
      throw decodeError;
    }
    if (signal.aborted) {
      URL.revokeObjectURL(url);
      return;
    }
    if (shownUrl) URL.revokeObjectURL(shownUrl);
    shownUrl = url;

    const ms = Math.round(performance.now() - started);
    el.image.dataset.seed = seed;
    el.image.dataset.psi = psi;
    el.image.alt = `generated image, seed ${seed}, truncation ${formatPsi(psi)}`;
    markUpscaled();
    const timing = Number.isFinite(serverMs) ? `render ${Math.round(serverMs)} ms · total ${ms} ms` : `${ms} ms`;
    el.statusRender.textContent = `seed ${seed} · ψ ${formatPsi(psi)} · ${timing}`;
    history.replaceState(null, "", `?${new URLSearchParams({ seed, psi })}`);
    clearError();
    setState("ready");
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    el.statusRender.textContent = "";
    showError(
      error instanceof TypeError ? `could not reach the server (${error.message})` : String(error.message),
      error.name,
    );
  } finally {
    if (inflight === controller) inflight = null;
  }
}

// Seeds are uint32, like NVIDIA's np.random.RandomState(seed).
function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

// ---- wiring -----------------------------------------------------------------------------------

el.form.addEventListener("submit", (event) => {
  event.preventDefault(); // Enter in the seed box lands here too
  render();
});

el.random.addEventListener("click", () => {
  el.seed.value = String(randomSeed());
  render();
});

el.psi.addEventListener("input", () => showPsi(el.psi.value));
el.psi.addEventListener("change", () => render());

window.addEventListener("resize", markUpscaled);

async function start() {
  // A page URL like /?seed=7&psi=0.7 opens on that image; the values go to the server as given.
  const query = new URLSearchParams(location.search);
  const seed = query.get("seed") ?? el.seed.value;
  const psi = query.get("psi") ?? el.psi.value;
  el.seed.value = seed;
  el.psi.value = psi;
  showPsi(psi);

  try {
    await loadModel();
  } catch (error) {
    el.statusModel.textContent = "no model";
    showError(`could not load the model: ${error.message}`, error.type || error.name);
    return;
  }
  await render(seed, psi);
}

start();
