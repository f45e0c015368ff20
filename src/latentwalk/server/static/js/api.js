// HTTP calls to the server (docs/explorer-api.md). Every failure becomes an ApiError carrying the
// server's own message ({"error": {"type", "message"}}), or a NetworkError when nothing answered.

export class ApiError extends Error {
  constructor(message, { type = "Error", status = 0 } = {}) {
    super(message);
    this.name = "ApiError";
    this.type = type;
    this.status = status;
  }

  get offline() {
    return this.status === 0;
  }
}

async function readError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: fall back to the status line
  }
  if (body?.error && typeof body.error.message === "string") {
    return new ApiError(body.error.message, { type: body.error.type || "Error", status: response.status });
  }
  if (body?.detail) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ")
      : String(body.detail);
    return new ApiError(detail, { type: `HTTP ${response.status}`, status: response.status });
  }
  const line = `${response.status} ${response.statusText}`.trim();
  return new ApiError(`the server answered ${line}`, { type: `HTTP ${response.status}`, status: response.status });
}

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`could not reach the server (${error.message})`, { type: "NetworkError", status: 0 });
  }
  if (!response.ok) throw await readError(response);
  return response.json();
}

const enc = encodeURIComponent;

export const api = {
  models: () => call("GET", "/api/models"),
  model: () => call("GET", "/api/model"),
  precision: () => call("GET", "/api/precision"),
  comparePrecision: (precision) => call("POST", "/api/precision/compare", { precision }),
  setModel: (name, snapshot = null) => call("POST", "/api/model", { name, snapshot }),
  z: (seeds) => call("GET", `/api/z?seeds=${seeds.join(",")}`),

  animations: () => call("GET", "/api/animations"),
  animation: (name) => call("GET", `/api/animations/${enc(name)}`),
  save: (name, settings, latents, onClash = "refuse") =>
    call("POST", "/api/animations", { name, settings, latents, on_clash: onClash }),
  overwrite: (name, settings, latents) => call("PUT", `/api/animations/${enc(name)}`, { settings, latents }),
  rename: (name, newName) => call("POST", `/api/animations/${enc(name)}/rename`, { new_name: newName }),
  duplicate: (name, newName = null) =>
    call("POST", `/api/animations/${enc(name)}/duplicate`, newName ? { new_name: newName } : {}),
  remove: (name) => call("DELETE", `/api/animations/${enc(name)}`),
  /** The thumbnail of a library entry (null when it has none), fresh after every update. */
  thumbUrl: (entry) =>
    entry.thumb ? `/api/animations/${enc(entry.name)}/thumb.jpg?v=${enc(entry.updated ?? "")}` : null,
  importMarrow: (payload) => call("POST", "/api/import/marrow", payload),

  startExport: (body) => call("POST", "/api/exports", body),
  exportStatus: (id) => call("GET", `/api/exports/${enc(id)}`),
  cancelExport: (id) => call("DELETE", `/api/exports/${enc(id)}`),

  bookmarks: () => call("GET", "/api/bookmarks"),
  addBookmark: (name, z) => call("POST", "/api/bookmarks", { name, z }),
  removeBookmark: (name) => call("DELETE", `/api/bookmarks/${enc(name)}`),

  // latent controls (js/latentcontrols.js, js/mixing.js)
  layers: () => call("GET", "/api/model/layers"),
  averageUrl: (model) => `/api/model/average.png?v=${enc(`${model.name}|${model.snapshot ?? ""}|${model.sha256 ?? ""}`)}`,
  nudge: (body) => call("POST", "/api/latents/nudge", body),
  randomise: (body) => call("POST", "/api/latents/randomise", body),
  mix: (body) => call("POST", "/api/latents/mix", body),

  playback: () => call("GET", "/api/playback"),
  /** A live playback command ({command: "play", names: [...]}, {command: "stop"}, ...): the new status. */
  playbackCommand: (command, fields = {}) => call("POST", "/api/playback", { command, ...fields }),
  midi: () => call("GET", "/api/midi"),
  midiLearn: (control, arg = null) => call("POST", "/api/midi/learn", { control, arg }),
  midiDisarm: () => call("DELETE", "/api/midi/learn"),
  midiUnbind: (index) => call("DELETE", `/api/midi/bindings/${index}`),
};
