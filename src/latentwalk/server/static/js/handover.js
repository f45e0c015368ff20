// A projected latent handed from the In page to the explorer through sessionStorage (same tab).

const KEY = "latentwalk.projected";

/** Remember a projection result ({z, model, label}) for the explorer's next load. */
export function handOver(projected) {
  sessionStorage.setItem(KEY, JSON.stringify(projected));
}

/** The pending projection for this model (removed once taken), or null. */
export function takeProjected(model) {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  sessionStorage.removeItem(KEY);
  try {
    const p = JSON.parse(raw);
    if (p.model !== model.name || !Array.isArray(p.z) || p.z.length !== model.z_dim) return null;
    return { z: p.z.map(Number), label: p.label || "projected picture" };
  } catch {
    return null;
  }
}
