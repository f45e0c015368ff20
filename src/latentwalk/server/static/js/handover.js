// A projected latent handed from the In page to the explorer through sessionStorage (same tab).

const KEY = "latentwalk.projected";

/** Remember a projection result ({z, ws, model, label}) for the explorer's next load. */
export function handOver(projected) {
  sessionStorage.setItem(KEY, JSON.stringify(projected));
}

/**
 * The pending projection for this model (removed once taken), or null: {z, label}, or for a
 * projection in w or w+ {z, ws, label} with `ws` one w per layer (z is then a placeholder of
 * zeros: a w+ keyframe renders from its ws and walks in w, like an edited one).
 */
export function takeProjected(model) {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  sessionStorage.removeItem(KEY);
  try {
    const p = JSON.parse(raw);
    if (p.model !== model.name) return null;
    const label = p.label || "projected picture";
    if (Array.isArray(p.ws)) {
      const fits = model.has_w && p.ws.length === model.num_ws && p.ws.every((w) => w.length === model.w_dim);
      return fits ? { z: new Array(model.z_dim).fill(0), ws: p.ws.map((w) => w.map(Number)), label } : null;
    }
    if (!Array.isArray(p.z) || p.z.length !== model.z_dim) return null;
    return { z: p.z.map(Number), label };
  } catch {
    return null;
  }
}
